"""The latentlab modules a stage script runs: its import closure inside the package, read from the source.

    python tests/closure.py stages/eval_probe.py    # prints the deps dvc.yaml should list

A module counts when any import statement names it (at module level or inside a function), and so
do the `__init__.py` files of its packages, which Python runs on import.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src"
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


def closure(script: Path) -> list[str]:
    """Paths (relative to the project root) of the script and every package module it runs, sorted."""
    seen: set[str] = set()
    todo = imported_modules(script)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= imported_modules(module_file(name))
    files = {module_file(name).relative_to(ROOT).as_posix() for name in seen}
    script = script.resolve()
    return [script.relative_to(ROOT).as_posix() if script.is_relative_to(ROOT) else str(script), *sorted(files)]


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
