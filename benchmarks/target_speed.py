"""How long ``target.solve`` and ``target.rule_report`` take: what a key in the app's target
mode waits for.

    python benchmarks/target_speed.py [--seeds 25]

For seeds 0..N-1 and every case 1-8: the solver's wall time and CPU time (``process_time``:
less sensitive to other processes on a shared machine), its linear programs, and the rule
report's time. Prints median, 90th percentile and max, with the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout, not an installed copy

import xor_tui  # noqa: E402, F401  first: MKL_CBWR before torch
from xor_tui.core.engine import net  # noqa: E402
from xor_tui.core.engine.net import Config  # noqa: E402
from xor_tui.core.rules import target  # noqa: E402


def _summary(name: str, values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    v = sorted(values)
    p90 = v[int(0.9 * (len(v) - 1))]
    return f"{name}: median {statistics.median(v) * scale:.1f} {unit}, p90 {p90 * scale:.1f}, max {v[-1] * scale:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=25)
    a = ap.parse_args()
    print("load before:", os.getloadavg())
    cfg = Config()
    target.solve(cfg, net.init_from_seed(0, cfg.sizes), 3)  # warm: the pattern table, imports
    wall, cpu, programs, report = [], [], [], []
    edits = {k: [] for k in range(1, 9)}
    for seed in range(a.seeds):
        params = net.init_from_seed(seed, cfg.sizes)
        for k in range(1, 9):
            t, c = time.perf_counter(), time.process_time()
            res = target.solve(cfg, params, k)
            wall.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
            programs.append(res.programs)
            edits[k].append(len(res.edits))
            t = time.perf_counter()
            target.rule_report(cfg, params, k)
            report.append(time.perf_counter() - t)
    print(f"{a.seeds} seeds x 8 cases")
    print(_summary("solve, wall", wall))
    print(_summary("solve, CPU", cpu))
    print(_summary("linear programs", programs, "", 1.0))
    print(_summary("rule_report, wall", report))
    print("edits per case (mean):", {k: round(statistics.mean(v), 2) for k, v in edits.items()})
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
