"""Time and peak memory of long replays through the real command line.

    python benchmarks/long_replay.py

case1 for 1,000,000 epochs (a fixed point: nothing updates), its JSON for 100,000, and
case3 (learning all the way) for 20,000 epochs, whose per-epoch cost says what a long
learning replay takes.
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
        start = time.perf_counter()
        with open(out, "wb") as fh:
            r = subprocess.run(
                ["/usr/bin/time", "-o", report, "-f", "%M", sys.executable, "-m", "xor_tui", *argv],
                stdout=fh,
                stderr=subprocess.DEVNULL,
                cwd=ROOT,
            )
        seconds = time.perf_counter() - start
        return seconds, int(Path(report).read_text().split()[-1]), r.returncode, os.path.getsize(out)


def main() -> None:
    for argv in (
        ["replay", "case1", "--epochs", "1000000"],
        ["replay", "case1", "--epochs", "100000", "--json"],
        ["replay", "case3", "--epochs", "20000"],
    ):
        load = os.getloadavg()
        seconds, kb, code, size = measure(argv)
        print(
            f"{' '.join(argv)}: {seconds:.1f} s, peak {kb / 1024:.0f} MB, exit {code}, "
            f"{size / 1e6:.1f} MB out (load {load[0]:.2f})"
        )


if __name__ == "__main__":
    main()
