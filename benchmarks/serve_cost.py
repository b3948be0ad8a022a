"""What `xor-tui serve` costs per browser page: time to the first screen and memory.

    python benchmarks/serve_cost.py [--pages N]

Starts `xor-tui serve` on a free loopback port, opens N pages one after another in headless
Chromium (Playwright + Debian's chromium-headless-shell), and for each page prints the time
from loading the page to the app's first screen, and its app process's memory: RSS (what
`ps` shows) and PSS (RSS with shared pages split among the processes sharing them: the
better figure for "what one more student costs"). Then medians, the server's own RSS and the
machine's load. The browser's own memory is on the students' machines and is not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.servehelp import (  # noqa: E402
    CHROMIUM,
    children,
    gone_within,
    kill_group,
    new_app_page,
    start_server,
    wait_screen,
)


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB, from /proc/PID/smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        fields[key] = int(value.split()[0])
    return fields["Rss"] / 1024, fields["Pss"] / 1024


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    proc, url = start_server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            pages, firsts, cpus = [], [], []
            for i in range(args.pages):
                t0 = time.monotonic()
                page, pid = new_app_page(browser, url, proc.pid)
                wait_screen(page, r"epoch 0\b")
                firsts.append(time.monotonic() - t0)
                cpus.append(cpu_seconds(pid))
                pages.append((page, pid))
                print(f"page {i + 1}: first screen after {firsts[-1]:.2f} s ({cpus[-1]:.2f} s of CPU)", flush=True)
            time.sleep(2)  # let every app settle
            before = [cpu_seconds(pid) for _, pid in pages]
            time.sleep(5)
            idle = [(cpu_seconds(pid) - b) / 5 * 100 for (_, pid), b in zip(pages, before)]
            mems = [memory_mb(pid) for _, pid in pages]
            for i, (rss, pss) in enumerate(mems):
                print(f"page {i + 1}: app process RSS {rss:.0f} MB, PSS {pss:.0f} MB")
            server_rss, _ = memory_mb(proc.pid)
            rss, pss = (statistics.median(m[k] for m in mems) for k in (0, 1))
            print(
                f"median over {args.pages} pages: first screen {statistics.median(firsts):.2f} s "
                f"({statistics.median(cpus):.2f} s of CPU), RSS {rss:.0f} MB, PSS {pss:.0f} MB, "
                f"idle CPU {statistics.median(idle):.1f}%; server RSS {server_rss:.0f} MB"
            )
            for page, pid in pages:
                page.close()
                if not gone_within(pid, 5):
                    print(f"app {pid} still running 5 s after its page closed", file=sys.stderr)
            browser.close()
        left = children(proc.pid)
        print(f"app processes left after closing every page: {len(left)}")
    finally:
        kill_group(proc)
        print("load average (1, 5, 15 min):", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
