"""The latentlab modules a stage script runs: its import closure inside the package, read from the source.

    python -m latentlab.closure stages/eval_probe.py    # prints the code deps dvc.yaml should list

A module counts when any import statement names it (at module level or inside a function), and so
do the `__init__.py` files of its packages, which Python runs on import. dvc.yaml lists each stage's
closure as its code deps (tests/test_dependencies.py checks it), and a training run's reuse key holds
the digest of the closure of the code that trains it (`latentlab.runs`).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]  # src/
ROOT = SOURCE.parent  # the project root, which dvc.yaml's paths are relative to
PACKAGE = "latentlab"


def module_file(name: str) -> Path | None:
    """The file of module `name` (a .py or a package's __init__.py), or None if it is not a module."""
    base = SOURCE.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(path: Path) -> set[str]:
    """Names of the package's modules that the file at `path` imports, parents included."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from pkg import module`
    modules = set()
    for name in names:
        if name.split(".")[0] == PACKAGE and module_file(name):
            parts = name.split(".")
            modules |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return modules


def _transitive(names: set[str]) -> set[str]:
    """The modules `names` and every package module they import, transitively."""
    seen: set[str] = set()
    todo = set(names)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= imported_modules(module_file(name))
    return seen


def closure(script: Path) -> list[str]:
    """Paths (relative to the project root) of the script and every package module it runs, sorted."""
    files = {module_file(name).relative_to(ROOT).as_posix() for name in _transitive(imported_modules(script))}
    script = script.resolve()
    return [script.relative_to(ROOT).as_posix() if script.is_relative_to(ROOT) else str(script), *sorted(files)]


def module_closure(module: str) -> list[Path]:
    """The files of package module `module`, of its packages' __init__s and of every module they import."""
    parts = module.split(".")
    return sorted(module_file(name) for name in _transitive({".".join(parts[:i]) for i in range(1, len(parts) + 1)}))


def collapsed(paths: list[str]) -> list[str]:
    """The same paths, each folder of the package whose every .py file is listed named once instead."""
    listed = set(paths)
    folders = sorted({str(Path(p).parent) for p in paths if p.startswith("src/")}, key=len)
    out = list(paths)
    for folder in folders:
        files = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*.py")}
        if folder != f"src/{PACKAGE}" and files <= listed and not any(folder.startswith(f + "/") for f in out):
            out = [p for p in out if not p.startswith(folder + "/")] + [folder]
    return sorted(out, key=lambda p: (not p.startswith("stages/"), p))


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}:\n  " + "\n  ".join(collapsed(closure(Path(arg)))))
