"""`xor-tui import` of the source's printouts (tests/seed/printouts.txt, 8 runs) as a whole process:
wall and CPU seconds, the slowest run's own time, and the load, N times; with --against DIR, the
same command from another checkout interleaved with ours (medians and their ratio).

    python benchmarks/import_process.py [--repeat 3] [--against /work/main]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "tests" / "seed" / "printouts.txt"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def once(tree: Path) -> dict:
    with tempfile.TemporaryDirectory() as out:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "xor_tui", "import", str(LOG), "--out", out],
            cwd=tree,
            env=dict(os.environ, PYTHONPATH=str(tree)),
            capture_output=True,
            text=True,
            timeout=600,
        )
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    runs = [float(s) for s in re.findall(r"; ([0-9.]+) s -> ", proc.stdout)]
    complete = proc.stdout.count("68/68 printed values reproduced")
    return {
        "wall": wall,
        "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "slowest_run": max(runs, default=math.nan),
        "complete": complete,
        "code": proc.returncode,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", type=Path, default=None)
    a = ap.parse_args()
    trees = {"ours": ROOT} | ({"other": a.against} if a.against else {})
    got: dict[str, list[dict]] = {k: [] for k in trees}
    for i in range(a.repeat):
        for name, tree in trees.items():
            r = once(tree)
            got[name].append(r)
            print(
                f"{name} #{i + 1}: wall {r['wall']:.1f} s, cpu {r['cpu']:.1f} s, slowest run {r['slowest_run']:.1f} s, "
                f"{r['complete']}/8 runs complete, exit {r['code']}; load {load()}",
                flush=True,
            )
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("wall", "cpu", "slowest_run")} for k, v in got.items()}
    for k, m in med.items():
        print(f"{k}: median wall {m['wall']:.1f} s, cpu {m['cpu']:.1f} s, slowest run {m['slowest_run']:.1f} s")
    if a.against:
        ours, other = med["ours"], med["other"]
        print(f"ours/other: wall {ours['wall'] / other['wall']:.2f}, cpu {ours['cpu'] / other['cpu']:.2f}")


if __name__ == "__main__":
    main()
