"""The committed TypeScript generated code (clients/typescript/src/gen) is exactly what `buf generate`
with buf.gen.yaml and the locked protoc-gen-es produces from the protos."""

from __future__ import annotations

from pathlib import Path

from tests.api.buf_tool import PROTOC_GEN_ES, REPO_ROOT, TS_ROOT, run_buf

COMMITTED = TS_ROOT / "src" / "gen"
HINT = "run `make generate` and commit the result"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_buf_generate_reproduces_the_committed_typescript_code_byte_for_byte(tmp_path: Path) -> None:
    assert PROTOC_GEN_ES.is_file(), f"{PROTOC_GEN_ES} missing: run `make unit` (npm ci in {TS_ROOT})"
    result = run_buf("generate", "--output", str(tmp_path), cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    fresh = _tree(tmp_path / "clients" / "typescript" / "src" / "gen")
    committed = _tree(COMMITTED)

    assert fresh, "buf generate produced nothing"
    assert sorted(committed) == sorted(fresh), f"generated file set differs: {HINT}"
    stale = sorted(name for name in fresh if fresh[name] != committed[name])
    assert not stale, f"stale generated files {stale}: {HINT}"


def test_every_proto_of_the_package_has_its_typescript_module() -> None:
    for proto in sorted((REPO_ROOT / "protos" / "orderly_grid" / "v1").glob("*.proto")):
        module = COMMITTED / "orderly_grid" / "v1" / f"{proto.stem}_pb.ts"
        assert module.is_file(), f"{module.relative_to(REPO_ROOT)} missing: {HINT}"
