"""Two commits timed back to back on this machine: the baseline's whole run, then ours.

    python benchmarks/compare.py [--baseline 8054ffc] [--commit HEAD] [--out benchmarks/results/pipeline.json]
                                 [--params KEY=VALUE ...] [--from-json BASELINE.json NEW.json] [--workdir DIR]

Each commit runs in a fresh clone of this repository with an empty DVC cache and its own library
(benchmarks/pipeline.py), the baseline first. Writes the JSON and prints the per-stage table:
- ratio: our seconds for the stages the baseline also has (matched by name, DVC's start-up
  included) over the baseline's seconds: the same study, old code against new;
- ratio_with_seeds: our whole run (which adds `validate`, the seed replicates and
  `rate_distortion`) over the baseline's.
Machines differ up to 2x from day to day: only ratios measured in one sitting mean anything.
--params edits both clones' params.yaml (a tiny run; keys a commit lacks are skipped with a note).
--from-json builds the comparison from two saved `pipeline.py --json` measurements instead of running.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline import ROOT, benchmark, parse_params

BASELINE = "8054ffc"  # the default run measured before the pipeline was rebuilt


def machine() -> dict[str, Any]:
    """CPU model, cores (all, and usable by this process) and AVX-512, from /proc/cpuinfo."""
    info = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().splitlines() if ":" in line)
    info = {key.strip(): value.strip() for key, value in info.items()}
    return {"cpu": info.get("model name", "unknown"), "cores": os.cpu_count(),
            "usable_cores": len(os.sched_getaffinity(0)), "avx512": "avx512f" in info.get("flags", "").split()}


def comparison(baseline: dict[str, Any], new: dict[str, Any], machine: dict[str, Any]) -> dict[str, Any]:
    """The comparison of two `pipeline.benchmark` measurements (see the module docstring for the ratios).

    stages: one row per stage of either run (ours first, in run order): seconds and peak MiB of each,
    None where a run lacks the stage.
    """
    base = pd.DataFrame(baseline["stages"]).set_index("stage")[["seconds", "peak_mib"]]
    ours = pd.DataFrame(new["stages"]).set_index("stage")[["seconds", "peak_mib"]]
    stages = ours.join(base.add_prefix("baseline_"), how="outer", sort=False)
    stages = stages.reindex(list(ours.index) + [s for s in base.index if s not in ours.index])
    shared = new["startup_seconds"] + ours.seconds[ours.index.isin(base.index)].sum()
    return {
        "baseline_commit": baseline["commit"], "baseline_seconds": baseline["seconds"],
        "commit": new["commit"], "seconds": new["seconds"],
        "ratio": shared / baseline["seconds"], "ratio_with_seeds": new["seconds"] / baseline["seconds"],
        "baseline_startup_seconds": baseline["startup_seconds"], "startup_seconds": new["startup_seconds"],
        "new_stages": [s for s in ours.index if s not in base.index],
        "baseline_only_stages": [s for s in base.index if s not in ours.index],
        "largest_peak_mib": {"baseline": base.peak_mib.max(), "new": ours.peak_mib.max()},
        "date": new["date"], **machine, "params": new["params"],
        "stages": [{k: None if pd.isna(v) else v for k, v in row.items()}
                   for row in stages.reset_index(names="stage").to_dict(orient="records")],
        "runs": {"baseline": baseline, "new": new},  # everything measured, epoch rates and libraries included
    }


def format_comparison(result: dict[str, Any]) -> str:
    """The per-stage table of both runs, then the totals and both ratios."""
    table = pd.DataFrame(result["stages"]).astype({"seconds": float, "baseline_seconds": float})
    table["new/base"] = table.seconds / table.baseline_seconds
    shown = table[["stage", "baseline_seconds", "seconds", "new/base", "baseline_peak_mib", "peak_mib"]].to_string(
        index=False, na_rep="", float_format="{:.1f}".format,
        formatters={"new/base": "{:.2f}".format, "baseline_peak_mib": "{:.0f}".format, "peak_mib": "{:.0f}".format})
    return "\n".join([
        shown,
        f"baseline {result['baseline_commit'][:7]}: {result['baseline_seconds']:.1f} s; "
        f"{result['commit'][:7]}: {result['seconds']:.1f} s on {result['cpu']} "
        f"({result['usable_cores']} of {result['cores']} cores usable, AVX-512 {'yes' if result['avx512'] else 'no'})",
        f"ratio {result['ratio']:.2f} (the baseline's stages), ratio_with_seeds {result['ratio_with_seeds']:.2f} "
        f"(+ {', '.join(result['new_stages']) or 'nothing'})",
        f"largest peak: baseline {result['largest_peak_mib']['baseline']:.0f} MiB, "
        f"new {result['largest_peak_mib']['new']:.0f} MiB",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pipeline.json")
    parser.add_argument("--params", nargs="*", default=[], metavar="KEY=VALUE", help="edits of both params.yaml")
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per network")
    parser.add_argument("--from-json", type=Path, nargs=2, metavar=("BASELINE", "NEW"))
    parser.add_argument("--workdir", type=Path, help="keep the clones in DIR/baseline and DIR/new (default: delete them)")
    args = parser.parse_args()
    if args.from_json:
        baseline, new = (json.loads(path.read_text()) for path in args.from_json)
    else:
        changes = parse_params(args.params)
        runs = []
        for label, commit in (("baseline", args.baseline), ("new", args.commit)):  # back to back, the baseline first
            kept = args.workdir.resolve() / label if args.workdir else None
            with nullcontext(kept) if kept else tempfile.TemporaryDirectory(prefix="latentlab-compare-") as workdir:
                Path(workdir).mkdir(parents=True, exist_ok=True)
                runs.append(benchmark(ROOT, commit, changes, Path(workdir), args.steps))
        baseline, new = runs
    result = comparison(baseline, new, machine())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(format_comparison(result))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
