"""`dvc plots show` with this project's HTML template draws every plot in Chromium, off the network."""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser import check_plots_page, chromium_or_reason
from conftest import ROOT

DVC = str(Path(sys.executable).parent / "dvc")
CURVE = "model,latent,loss\nae,2,0.5\nae,4,0.3\nvae,2,0.6\nvae,4,0.35\n"
GRID = base64.b64decode(  # a 4x4 red PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAECAIAAAAmkwkpAAAAEElEQVR42mM4IScHRwzEcQCxYxBB00rMDQAAAABJRU5ErkJggg==")
DVC_YAML = """\
plots:
  - loss vs latent:
      template: plots/templates/by_model.json
      x: latent
      y:
        curve.csv: loss
  - curve.csv:
      x: latent
      y: loss
  - grid.png
"""


def run(*args: str, cwd: Path) -> None:
    """Run a command in `cwd`, failing the test with its output if it fails."""
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")


def test_plots_page_draws_every_plot_without_the_network(tmp_path):
    """Each Vega plot has a view with drawn marks, each image loads, and every request stays local."""
    chromium, reason = chromium_or_reason()
    if chromium is None:
        pytest.skip(reason)
    run("git", "init", "-q", cwd=tmp_path)
    run(DVC, "init", "-q", cwd=tmp_path)
    # The project's plots setting and templates, as `dvc plots show` in the project finds them.
    shutil.copy(ROOT / ".dvc" / "config", tmp_path / ".dvc" / "config")
    shutil.copytree(ROOT / "plots" / "templates", tmp_path / "plots" / "templates")
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "curve.csv").write_text(CURVE)
    (tmp_path / "grid.png").write_bytes(GRID)
    run(DVC, "plots", "show", "-o", "rendered", cwd=tmp_path)

    page = check_plots_page(tmp_path / "rendered" / "index.html")

    assert len(page.plots) == 2  # by this project's template and by DVC's default one
    assert all(plot.views == 1 and plot.marks > 0 for plot in page.plots), page
    assert len(page.images) == 1 and all(image.loaded for image in page.images), page
    assert page.remote_urls == [] and page.errors == [], page


def test_dvc_config_points_at_the_offline_template():
    config = (ROOT / ".dvc" / "config").read_text()
    setting = re.search(r"^\s*html_template\s*=\s*(\S+)\s*$", config, re.MULTILINE)
    assert setting, ".dvc/config has no plots.html_template"
    # DVC reads the path relative to the .dvc directory (dvc/commands/plots.py: _html_template_path).
    assert (ROOT / ".dvc" / setting.group(1)).resolve() == ROOT / "plots" / "templates" / "offline.html"


def test_offline_template_is_built_from_the_vendored_libraries():
    spec = importlib.util.spec_from_file_location("build_template", ROOT / "plots" / "vendor" / "build_template.py")
    build_template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_template)
    assert (ROOT / "plots" / "templates" / "offline.html").read_text(encoding="utf-8") == build_template.build_page()
