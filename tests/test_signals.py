"""The app leaves on SIGTERM within 2 s whatever it is doing (starting up, playing, a
background run, a dialog open), in a terminal (tmux) and under `xor-tui serve`; and a page
closed during a background run leaves no app behind.

The bound is generous (an orderly exit takes a fraction of a second): this checks that the
app leaves, not how fast. Every state's app is started at once, so start-ups overlap."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .servehelp import (
    Tmux,
    alive,
    chromium,
    gone_within,
    kill_group,
    need_browser,
    new_app_page,
    start_server,
    wait_for,
    wait_screen,
)

BOUND = 2.0
# state: the keys to press after the first screen, each with what the screen shows once it
# has been taken (the next key is pressed only then)
STATES = {
    "playing": [("p", r"playing \d+/s")],
    # case 3 with a sigmoid output (o three times: leaky_relu, elu, sigmoid) meets no event for
    # 30,000 epochs and is off the fused kernel (~1.5 ms an epoch): "run to the next event" goes on
    "background run": [
        ("3", r"Loaded Case 3"),
        ("o", r"activation: leaky_relu"),
        ("o", r"activation: elu\b"),
        ("o", r"activation: sigmoid"),
        ("n", r"running…"),
    ],
    "dialog open": [("g", r"Seed \(a whole number")],
}
TMUX_KEYS = {"p": "p", "1": "1", "3": "3", "n": "n", "g": "g", "o": "o"}


# ------------------------------------------------------------------ in a terminal (tmux)
@pytest.fixture(scope="module")
def tmux_apps():
    apps = {state: Tmux(f"sig-{i}") for i, state in enumerate([*STATES, "hang-up"])}
    yield apps
    for app in apps.values():
        app.close()


def test_sigterm_while_starting_up_in_tmux():
    app = Tmux("sig-start")
    try:
        time.sleep(0.3)
        assert "epoch" not in app.screen()  # still starting: nothing drawn yet
        os.kill(app.pid, signal.SIGTERM)
        assert gone_within(app.pid, BOUND)
    finally:
        app.close()


@pytest.mark.parametrize("state", list(STATES))
def test_sigterm_in_tmux(tmux_apps, state):
    app = tmux_apps[state]
    app.wait_screen(r"epoch 0\b")
    for k, shows in STATES[state]:
        app.keys(TMUX_KEYS[k])
        app.wait_screen(shows, timeout=15)
    os.kill(app.pid, signal.SIGTERM)
    assert gone_within(app.pid, BOUND), f"still running {BOUND} s after SIGTERM ({state})"


def test_closing_the_terminal_while_playing(tmux_apps):
    """The terminal goes away (SIGHUP, and writes to it fail or block): gone at once, not
    only when the forced exit comes (the app lived 3-3.6 s after a hang-up while playing)."""
    app = tmux_apps["hang-up"]
    app.wait_screen(r"epoch 0\b")
    app.keys("p")
    app.wait_screen(STATES["playing"][0][1], timeout=15)
    subprocess.run([*app.tmux, "kill-session", "-t", app.name], capture_output=True, check=True)
    assert gone_within(app.pid, BOUND), f"still running {BOUND} s after its terminal closed"


# ------------------------------------------------------------------ under xor-tui serve
@pytest.fixture(scope="module")
def served():
    need_browser()
    proc, url = start_server()
    yield proc, url
    kill_group(proc)


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def pages(served, browser):
    proc, url = served
    opened = {state: new_app_page(browser, url, proc.pid) for state in [*STATES, "closed page"]}
    yield opened
    for page, _ in opened.values():
        page.close()


def test_sigterm_while_starting_up_under_serve(served, browser):
    proc, url = served
    page, pid = new_app_page(browser, url, proc.pid)
    try:
        os.kill(pid, signal.SIGTERM)
        assert gone_within(pid, BOUND)
    finally:
        page.close()


def _drive(page, steps):
    wait_screen(page, r"epoch 0\b")
    page.click("#terminal")
    for k, shows in steps:
        page.keyboard.press(k)
        wait_screen(page, shows, timeout=15)


@pytest.mark.parametrize("state", list(STATES))
def test_sigterm_under_serve(pages, state):
    page, pid = pages[state]
    _drive(page, STATES[state])
    os.kill(pid, signal.SIGTERM)
    assert gone_within(pid, BOUND), f"still running {BOUND} s after SIGTERM ({state})"


def test_closing_the_page_during_a_background_run(pages):
    page, pid = pages["closed page"]
    _drive(page, STATES["background run"])
    page.close()
    assert gone_within(pid, BOUND)
    assert not alive(pid)


# ------------------------------------------------------------------ the root cause
def test_an_app_whose_output_nobody_reads_still_leaves():
    """What left apps behind under textual-serve: the server stopped reading the app's output
    when the page went, the app blocked writing its first screen (more than a pipe holds) and
    so never saw "quit" or SIGTERM. Both must still end it."""
    import json
    import subprocess
    import sys

    from .servehelp import ROOT, app_env

    env = dict(app_env(), TEXTUAL_DRIVER="textual.drivers.web_driver:WebDriver", COLUMNS="200", ROWS="55")
    procs = {
        how: subprocess.Popen(
            [sys.executable, "-m", "xor_tui"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for how in ("quit", "SIGTERM")
    }
    try:
        for p in procs.values():
            assert p.stdout.readline() == b"__GANGLION__\n"  # started; from here on nobody reads
        for p in procs.values():  # it renders its first screen into the pipe, which fills: its writer blocks
            assert wait_for(lambda p=p: _writing_to_a_full_pipe(p.pid), timeout=30), "it never blocked on its pipe"
        quit = json.dumps({"type": "quit"}).encode()
        procs["quit"].stdin.write(b"M" + len(quit).to_bytes(4, "big") + quit)
        procs["quit"].stdin.flush()
        procs["SIGTERM"].send_signal(signal.SIGTERM)
        for how, p in procs.items():
            assert gone_within(p.pid, BOUND), f"an app with a full output pipe ignored {how}"
    finally:
        for p in procs.values():
            p.kill()
            p.wait()


def _writing_to_a_full_pipe(pid: int) -> bool:
    """Some thread of ``pid`` is blocked writing to a pipe (its kernel wait channel says so)."""
    waits = []
    for f in Path(f"/proc/{pid}/task").glob("*/wchan"):
        try:
            waits.append(f.read_text())
        except OSError:  # the thread ended meanwhile
            continue
    return any(w.endswith("pipe_write") for w in waits)
