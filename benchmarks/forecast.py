"""Forecasting benchmark: the EWP walk-forward backtest of earlywarn's model and of EWP's own.

    .venv/bin/python benchmarks/forecast.py [--ewp PATH] [--skip-reference] [--report OUT.html]

Runs exactly ``earlywarn backtest --format ewp --data PATH --first-train-year 1991
--last-train-year 2021 --json OUT`` (31 walk-forward steps, both horizons) for the default model
(procedure 2, ``nested-fast``: docs/forecasting-procedure-2.md), then the same with ``--model
ewp-reference`` (the Early Warning Project's elastic-net logit), each as its own process, and
prints both sets of figures with the wall and CPU time of each (CPU time counts every worker
process, so it is comparable on a busy machine; ``cpu_seconds`` is the process's own figure
from the JSON), the one-year figures and the calibration, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from earlywarn.forecasting.catalog import DEFAULT_MODEL

REPO = Path(__file__).resolve().parent.parent
DEFAULT_EWP = REPO.parent / "shared" / "data" / "ewp" / "prepared2024predictors-2025-09-03.csv"
GOALS = {"auc": 0.87, "recall_at_30": 0.82}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(data: Path, model: str, out_dir: Path, report: Path | None) -> dict[str, Any]:
    earlywarn = shutil.which("earlywarn", path=str(Path(sys.executable).parent)) or "earlywarn"
    out = out_dir / f"{model}.json"
    command = [
        earlywarn, "backtest", "--format", "ewp", "--data", str(data),
        "--first-train-year", "1991", "--last-train-year", "2021", "--json", str(out),
    ]  # fmt: skip
    command += ["--model", model]
    if report is not None:
        command += ["--report", str(report)]
    cpu, wall = _children_cpu(), time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["process_wall_seconds"] = round(time.perf_counter() - wall, 2)
    figures["process_cpu_seconds"] = round(_children_cpu() - cpu, 2)
    for bulky in ("onsets", "forecasts", "selection_steps"):
        figures.pop(bulky, None)
        figures.get("one_year", {}).pop(bulky, None)
    for part in (figures, figures.get("one_year", {})):
        curve = part.get("calibration", {})
        curve.pop("reliability_curve", None)
    return figures


def _line(f: dict[str, Any]) -> str:
    missed = ", ".join(f"{m['name']} {m['year']} (rank {m['best_rank']})" for m in f["missed"])
    return (
        f"{f['model']:>14}: AUC {f['auc']:.3f}  recall@10/20/30 {f['recall_at_10']:.3f}/"
        f"{f['recall_at_20']:.3f}/{f['recall_at_30']:.3f} of {f['n_onsets']} onsets  "
        f"FA/hit@4% {f['false_alarms_per_hit_at_4pct']}  AP {f['average_precision']:.4f}  "
        f"Brier {f['brier']:.5f}  wall {f['process_wall_seconds']} s  "
        f"CPU {f['process_cpu_seconds']} s (cpu_seconds {f.get('cpu_seconds')})\n"
        f"{'':>16}missed: {missed or 'none'}\n{'':>16}{_extra(f)}"
    )


def _extra(f: dict[str, Any]) -> str:
    one, cal = f.get("one_year") or {}, f.get("calibration") or {}
    return (
        f"one-year: AUC {one.get('auc')} recall@30 {one.get('recall_at_30')} of "
        f"{one.get('n_onsets')} FA/hit@4% {one.get('false_alarms_per_hit_at_4pct')}; "
        f"two-year ECE {cal.get('expected_calibration_error')} Brier reliability "
        f"{cal.get('brier_reliability')} resolution {cal.get('brier_resolution')} "
        f"uncertainty {cal.get('brier_uncertainty')}; selection {f.get('selection')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ewp", type=Path, default=DEFAULT_EWP)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--report", type=Path, default=None)
    args = parser.parse_args()
    if not args.ewp.is_file():
        sys.exit(f"EWP file not found: {args.ewp}")
    with tempfile.TemporaryDirectory() as tmp:
        ours = run(args.ewp, DEFAULT_MODEL, Path(tmp), args.report)
        print(_line(ours), flush=True)
        reference = None
        if not args.skip_reference:
            reference = run(args.ewp, "ewp-reference", Path(tmp), None)
            print(_line(reference), flush=True)
    goals = {
        "auc>=0.87": ours["auc"] >= GOALS["auc"],
        "recall@30>=0.82": ours["recall_at_30"] >= GOALS["recall_at_30"],
        "cpu<=20s": ours["process_cpu_seconds"] <= 20,
    }
    if reference is not None:
        goals["fewer_false_alarms_per_hit_than_reference"] = (
            ours["false_alarms_per_hit_at_4pct"] < reference["false_alarms_per_hit_at_4pct"]
        )
    print("goals met: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in goals.items()))
    print(
        json.dumps(
            {"benchmark": "forecast", "model": ours, "ewp_reference": reference, "goals": goals}
        )
    )


if __name__ == "__main__":
    main()
