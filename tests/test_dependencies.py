"""dvc.yaml lists, for each stage, exactly the code it runs: its script and the latentlab modules
that the script imports, transitively (tests/closure.py reads them from the source)."""

from __future__ import annotations

import pytest
import yaml

from latentlab.closure import ROOT, closure, collapsed, imported_modules

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def code_files(deps: list[str]) -> set[str]:
    """The listed code deps, a folder standing for every .py file in it."""
    files = set()
    for dep in deps:
        path = ROOT / dep
        if dep.startswith("src/") and path.is_dir():
            files |= {p.relative_to(ROOT).as_posix() for p in path.rglob("*.py")}
        elif dep.startswith(("src/", "stages/")):
            files.add(dep)
    return files


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stage_depends_on_exactly_the_code_it_runs(name):
    stage = STAGES[name]
    scripts = [dep for dep in stage["deps"] if dep.startswith("stages/")]
    assert len(scripts) == 1 and f"python {scripts[0]} " in stage["cmd"] + " ", f"{name}: runs another script"
    expected = closure(ROOT / scripts[0])
    listed = code_files(stage["deps"])
    assert listed == set(expected), (
        f"{name}: dvc.yaml lists {sorted(listed - set(expected))} that the stage does not import and misses "
        f"{sorted(set(expected) - listed)}; its code deps are: [{', '.join(collapsed(expected))}]")


def test_the_closure_follows_imports_inside_functions_and_package_inits(tmp_path):
    """What the closure counts: a function-level import, `from package import module`, and package __init__s."""
    script = tmp_path / "stage.py"
    script.write_text("from latentlab.evaluate import probe\n\ndef main():\n    import latentlab.report\n")
    found = closure(script)
    for module in ("src/latentlab/__init__.py", "src/latentlab/evaluate/__init__.py",
                   "src/latentlab/evaluate/probe.py", "src/latentlab/report.py", "src/latentlab/stats.py"):
        assert module in found, module
    assert "src/latentlab/train.py" not in found  # nothing the script does not import


def test_the_library_never_imports_the_stage_entry_points_module():
    """Layers point down: stages -> library. Only stage scripts may import latentlab.cli."""
    for path in sorted((ROOT / "src" / "latentlab").rglob("*.py")):
        assert "latentlab.cli" not in imported_modules(path), path

