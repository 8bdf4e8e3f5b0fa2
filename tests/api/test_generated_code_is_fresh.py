"""The committed generated code is exactly what the protos and the pinned generators produce."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_ROOT = REPO_ROOT / "clients" / "python"
COMMITTED = CLIENT_ROOT / "orderly_grid" / "v1"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("orderly_grid_generate", CLIENT_ROOT / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _tree(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}


def test_regenerating_the_protos_reproduces_the_committed_code_byte_for_byte(tmp_path: Path) -> None:
    generator = _load_generator()
    generator.generate(tmp_path)
    fresh = _tree(tmp_path / "orderly_grid" / "v1")
    committed = _tree(COMMITTED)

    assert fresh, "the generator produced nothing"
    hint = "run `.venv/bin/python clients/python/generate.py` and commit the result"
    assert sorted(committed) == sorted(fresh), f"generated file set differs: {hint}"
    stale = sorted(name for name in fresh if fresh[name] != committed[name])
    assert not stale, f"stale generated files {stale}: {hint}"


def test_every_proto_of_the_package_has_messages_and_type_stubs_committed() -> None:
    generator = _load_generator()
    sources = generator.proto_sources()
    assert sources, "no protos found under protos/orderly_grid/v1"
    for source in sources:
        stem = Path(source).stem
        for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi"):
            assert (COMMITTED / f"{stem}{suffix}").is_file(), f"{stem}{suffix} missing"
