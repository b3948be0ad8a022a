"""Helpers for the tests that run real app processes: `xor-tui serve` driven by headless
Chromium (Playwright, with Debian's chromium-headless-shell: no browser download), and the
app under tmux. Every process is started in its own process group and killed with it."""

from __future__ import annotations

import contextlib
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium-headless-shell") or "/usr/bin/chromium-headless-shell"
STARTUP = 60.0  # generous bound for a loaded machine: import torch + textual, first screen

# Keeps the page's xterm.js Terminal reachable: the page assigns it to `this.terminal` of an
# object the page keeps to itself; this setter on Object.prototype sees that assignment.
GRAB_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    if (value && value.buffer && value.buffer.active) { window.__xterm = value; }
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true, enumerable: true});
  },
});
"""
SCREEN_JS = """() => {
  const t = window.__xterm;
  if (!t) return null;
  const b = t.buffer.active, lines = [];
  for (let y = 0; y < t.rows; y++) { const l = b.getLine(y); lines.push(l ? l.translateToString(true) : ''); }
  return lines;
}"""


def interruptible() -> None:
    """A ``preexec_fn`` for a child that gets Ctrl-C: SIGINT as a terminal gives it, even when
    the suite itself was started with SIGINT ignored (a background job of a non-interactive
    shell), which the child would inherit and Python would keep."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def need_browser():
    """Skip (or, in CI, fail) when the browser or Playwright is missing."""
    why = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        why = "playwright is not installed (pip install -e '.[test]')"
    if why is None and not os.access(CHROMIUM, os.X_OK):
        why = "Debian's chromium-headless-shell is not installed (apt-get install chromium-headless-shell)"
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why}; .ci/run installs it, so CI must have it")
        pytest.skip(why)


@contextlib.contextmanager
def chromium():
    """Debian's headless Chromium under Playwright (by its path: never `playwright install`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env() -> dict:
    """The environment for an app process: this checkout's code, and no size or driver
    settings inherited from the test run (a COLUMNS=80 there would shrink the app in tmux)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "ROWS") and not k.startswith("TEXTUAL")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def start_server(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`xor-tui serve` on a free loopback port in its own process group; returns (proc, the
    URL it printed, with its token). Unless ``args`` give a --root, pages reach a new temporary
    folder: ``proc.root``. Lines the server printed before its URL (warnings): ``proc.said``."""
    port = free_port()
    root = None
    if "--root" not in args:
        root = tempfile.mkdtemp(prefix="xor-tui-test-root-")
        args = (*args, "--root", root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "xor_tui", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env or app_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    said: list[str] = []
    url, deadline = None, time.monotonic() + STARTUP
    while url is None and time.monotonic() < deadline and proc.poll() is None:
        if select.select([proc.stdout], [], [], 0.2)[0]:
            line = proc.stdout.readline().decode(errors="replace")
            said.append(line.strip())
            m = re.search(r"open (http://\S+) in a browser", line)
            url = m and m[1]
    if url is None:
        kill_group(proc)
        pytest.fail(f"xor-tui serve did not start: {said!r}")
    # keep reading what the server prints (the last 1,000 lines kept), so that it never blocks
    def drain() -> None:
        for line in proc.stdout:
            said.append(line.decode(errors="replace").strip())
            del said[:-1000]

    threading.Thread(target=drain, daemon=True).start()
    proc.root, proc.said = root, said
    return proc, url


def kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    if getattr(proc, "root", None):  # the temporary folder start_server made for the pages
        shutil.rmtree(proc.root, ignore_errors=True)


def children(pid: int) -> set[int]:
    kids = set()
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = Path(f"/proc/{d}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                kids.add(int(d))
    return kids


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; its parent has not reaped it yet


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def wait_for(what, timeout: float = STARTUP, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def new_app_page(browser, url: str, server_pid: int):
    """Open a page; return (page, pid of the app process the page started)."""
    before = children(server_pid)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.add_init_script(GRAB_TERMINAL)
    # only this server: the page's web-font link must not leave the machine
    page.route(re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort())
    page.goto(url)
    new = wait_for(lambda: children(server_pid) - before, timeout=10, step=0.02)
    assert len(new) == 1, f"expected one new app process for the page, got {new}"
    return page, new.pop()


def screen(page) -> list[str]:
    return page.evaluate(SCREEN_JS) or []


def status_line(lines: list[str]) -> str:
    return next((ln for ln in lines if ln.lstrip().startswith("epoch ")), "")


def wait_screen(page, pattern: str, timeout: float = STARTUP) -> list[str]:
    """Wait until the page's terminal shows ``pattern`` (a regex); return the screen."""
    rx = re.compile(pattern)
    lines = wait_for(lambda: (s := screen(page)) and rx.search("\n".join(s)) and s, timeout=timeout)
    assert lines, f"the page never showed {pattern!r}; screen:\n" + "\n".join(screen(page))
    return lines


class Tmux:
    """The app in a tmux session of its own (120x36)."""

    def __init__(self, name: str, still: bool = False) -> None:
        """``still``: Textual's animations off (TEXTUAL_ANIMATIONS=none), so no dashes run
        after a step and the screen is still as soon as it is drawn."""
        self.name = name
        self.tmux = ["tmux", "-L", f"xortest{os.getpid()}"]  # a tmux server of our own
        out = subprocess.run(
            [
                *self.tmux, "new-session", "-d", "-P", "-F", "#{pane_pid}", "-s", self.name, "-x", "120", "-y", "36",
                "-e", f"PYTHONPATH={ROOT}", *(["-e", "TEXTUAL_ANIMATIONS=none"] if still else []),
                "-c", str(ROOT), f"exec {sys.executable} -m xor_tui",
            ],
            capture_output=True, text=True, check=True, env=app_env(),
        )  # fmt: skip
        self.pid = int(out.stdout.strip())

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.tmux, "send-keys", "-t", self.name, *keys], check=False)

    def screen(self) -> str:
        done = subprocess.run([*self.tmux, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return done.stdout

    def size(self) -> tuple[int, int]:
        """The window's (width, height) as tmux has it now."""
        done = subprocess.run(
            [*self.tmux, "display-message", "-p", "-t", self.name, "#{window_width} #{window_height}"],
            capture_output=True,
            text=True,
        )
        w, h = done.stdout.split()
        return int(w), int(h)

    def wait_screen(self, pattern: str, timeout: float = STARTUP) -> str:
        rx = re.compile(pattern)
        text = wait_for(lambda: (s := self.screen()) and rx.search(s) and s, timeout=timeout)
        assert text, f"tmux never showed {pattern!r}; screen:\n{self.screen()}"
        return text

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-session", "-t", self.name], capture_output=True)
        if alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        if subprocess.run([*self.tmux, "list-sessions"], capture_output=True).returncode != 0:
            # our tmux server has gone with its last session: remove its socket file too
            folder = Path(os.environ.get("TMUX_TMPDIR", "/tmp")) / f"tmux-{os.getuid()}"
            (folder / self.tmux[2]).unlink(missing_ok=True)
