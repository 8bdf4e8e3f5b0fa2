"""Regenerate the Python code for the orderly_grid.v1 protos into clients/python.

Run from anywhere with the project's venv:  .venv/bin/python clients/python/generate.py

Produces, for every protos/orderly_grid/v1/*.proto: `<name>_pb2.py` (messages), `<name>_pb2_grpc.py`
(stubs and servicer bases) and their `.pyi` type stubs (mypy-protobuf), plus the package's
`__init__.py`. The generated files are committed; tests/api/test_generated_code_is_fresh.py fails
when regenerating would change them, so edit the protos and rerun this script, never the output.
The output depends on the generator versions (grpcio-tools, mypy-protobuf), which is why those are
pinned in the dev extras.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "protos"
VENDORED_ROOT = PROTO_ROOT / "third_party" / "googleapis"
PACKAGE_DIR = Path("orderly_grid") / "v1"
DEFAULT_OUT = Path(__file__).resolve().parent

GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")
PACKAGE_INIT = (
    '"""Generated protobuf and gRPC code for orderly_grid.v1 (see clients/python/generate.py)."""\n'
)


def proto_sources() -> list[Path]:
    """The .proto files of our package, relative to the proto root, in a stable order."""
    return sorted(p.relative_to(PROTO_ROOT) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))


def _plugin(name: str) -> str:
    # The mypy-protobuf plugins are console scripts installed next to the running interpreter.
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install mypy-protobuf into the venv")
    return found


def generate(out_dir: Path) -> list[Path]:
    """Write the generated package under out_dir (replacing earlier output); return the files written."""
    # A dev dependency without type information, imported here so importing this module stays cheap.
    from grpc_tools import protoc  # type: ignore[import-untyped]

    package_out = out_dir / PACKAGE_DIR
    if package_out.exists():
        for stale in package_out.iterdir():
            if stale.name.endswith(GENERATED_SUFFIXES):
                stale.unlink()
    package_out.mkdir(parents=True, exist_ok=True)

    well_known = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={VENDORED_ROOT}",
        f"--proto_path={well_known}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(str(p) for p in proto_sources()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed (see the messages above)")
    (package_out / "__init__.py").write_text(PACKAGE_INIT)
    return sorted(p for p in package_out.iterdir() if p.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output root (default: clients/python)")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
