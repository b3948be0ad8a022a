"""Time and peak memory of long replays through the real command line.

    python benchmarks/long_replay.py

A million epochs (the most `--epochs` allows) of case1 (a fixed point: nothing updates)
and of case3 (learning all the way, so every epoch is trained: the fused kernel's
trajectory), as text, JSON and CSV.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(argv: list[str]) -> tuple[float, int, int, int]:
    """Seconds, peak resident memory (KB, from /usr/bin/time), exit status, bytes written."""
    with tempfile.TemporaryDirectory() as tmp:
        report, out = os.path.join(tmp, "t"), os.path.join(tmp, "out")
        argv = [os.path.join(tmp, "x.csv") if a == "CSV" else a for a in argv]
        start = time.perf_counter()
        with open(out, "wb") as fh:
            r = subprocess.run(
                ["/usr/bin/time", "-o", report, "-f", "%M", sys.executable, "-m", "xor_tui", *argv],
                stdout=fh,
                stderr=subprocess.DEVNULL,
                cwd=ROOT,
            )
        seconds = time.perf_counter() - start
        written = os.path.getsize(out) + sum(
            os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp) if f.endswith(".csv")
        )
        return seconds, int(Path(report).read_text().split()[-1]), r.returncode, written


def main() -> None:
    for argv in (
        ["replay", "case1", "--epochs", "1000000"],
        ["replay", "case3", "--epochs", "1000000"],
        ["replay", "case3", "--epochs", "1000000", "--json"],
        ["replay", "case3", "--epochs", "1000000", "--csv", "CSV"],
    ):
        load = os.getloadavg()
        seconds, kb, code, size = measure(argv)
        print(
            f"{' '.join(argv)}: {seconds:.1f} s, peak {kb / 1024:.0f} MB, exit {code}, "
            f"{size / 1e6:.1f} MB out (load {load[0]:.2f})"
        )


if __name__ == "__main__":
    main()
