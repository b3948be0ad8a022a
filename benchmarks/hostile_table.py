"""Run the hostile corpus (tests/hostile.py) through the real command line, one process per
input, and print per kind: how many inputs were tried and how many got exit status 2 with
exactly one stderr line, no traceback, in under 20 s and under 1.5 GB of peak memory.

    python benchmarks/hostile_table.py [--verbose]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import hostile  # noqa: E402

TIME_LIMIT, MEMORY_LIMIT_KB, KILL_AFTER = 20.0, 1.5 * 1024 * 1024, 120


def run_one(argv: list[str], tmp: str) -> dict:
    """One process under /usr/bin/time, which reports its peak resident memory."""
    report = os.path.join(tmp, "time.txt")
    start = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-o", report, "-f", "%M", sys.executable, "-m", "xor_tui", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        out, err = proc.communicate(timeout=KILL_AFTER)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    seconds = time.perf_counter() - start
    try:
        maxrss = int(Path(report).read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        maxrss = 0
    return {"code": proc.returncode, "err": err.decode("utf-8", "replace"), "seconds": seconds, "maxrss_kb": maxrss}


def main() -> None:
    verbose = "--verbose" in sys.argv
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    rows: dict[str, list[dict]] = defaultdict(list)
    slowest = (0.0, "")
    biggest = (0, "")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = hostile.build(Path(tmp))
        for kind, label, argv in corpus:
            r = run_one(argv, tmp)
            r["ok_code"] = r["code"] == 2
            r["one_line"] = len(r["err"].splitlines()) == 1
            r["no_tb"] = "Traceback" not in r["err"]
            r["fast"] = r["seconds"] < TIME_LIMIT
            r["small"] = r["maxrss_kb"] < MEMORY_LIMIT_KB
            r["all"] = all(r[k] for k in ("ok_code", "one_line", "no_tb", "fast", "small"))
            rows[kind].append(r)
            slowest = max(slowest, (r["seconds"], label))
            biggest = max(biggest, (r["maxrss_kb"], label))
            if verbose or not r["all"]:
                print(
                    f"  {kind} / {label}: exit {r['code']}, {r['seconds']:.1f} s, "
                    f"{r['maxrss_kb'] / 1024:.0f} MB, stderr {r['err'].strip()[:150]!r}"
                )
    head = ("kind", "tried", "exit 2", "one line", "no traceback", "< 20 s", "< 1.5 GB", "all of these")
    print(" | ".join(head))
    total = defaultdict(int)
    for kind, rs in rows.items():
        counts = [len(rs)] + [sum(r[k] for r in rs) for k in ("ok_code", "one_line", "no_tb", "fast", "small", "all")]
        for h, c in zip(head[1:], counts):
            total[h] += c
        print(" | ".join([kind, *map(str, counts)]))
    print(" | ".join(["total", *(str(total[h]) for h in head[1:])]))
    print(f"slowest: {slowest[0]:.1f} s ({slowest[1]}); largest peak memory: {biggest[0] / 1024:.0f} MB ({biggest[1]})")


if __name__ == "__main__":
    main()
