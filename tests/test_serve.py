"""`xor-tui serve` in a real browser: headless Chromium (Debian's chromium-headless-shell)
driven by Playwright loads the page, plays, reads the screen back from xterm.js, quits; a
page closed during start-up leaves no app process behind."""

from __future__ import annotations

import re

import pytest

from xor_tui.cli.serve import app_command, check_host

from .servehelp import (
    children,
    chromium,
    gone_within,
    kill_group,
    need_browser,
    new_app_page,
    start_server,
    status_line,
    wait_screen,
)


@pytest.fixture(scope="module")
def served():
    need_browser()
    proc, url = start_server()
    yield proc, url
    kill_group(proc)  # the server and every app it started: one process group


@pytest.fixture(scope="module")
def browser(served):
    with chromium() as b:
        yield b


def test_play_case7_in_the_browser_then_quit(served, browser):
    proc, url = served
    page, app_pid = new_app_page(browser, url, proc.pid)
    wait_screen(page, r"epoch 0\b")  # the first screen
    page.click("#terminal")
    page.keyboard.press("7")
    wait_screen(page, r"Loaded Case 7: ", timeout=15)
    page.keyboard.press(" ")
    lines = wait_screen(page, r"epoch 1\b", timeout=15)
    status = status_line(lines)
    assert re.search(r"epoch 1\b", status) and re.search(r"\bcase 7\b", status), status
    page.keyboard.press("q")
    assert gone_within(app_pid, 5), "the app process is still there after q"
    page.close()


def test_page_closed_during_startup_leaves_no_app(served, browser):
    proc, url = served
    page, app_pid = new_app_page(browser, url, proc.pid)  # the app process has just started
    page.close()
    assert gone_within(app_pid, 5), "the app process outlived its page"
    assert app_pid not in children(proc.pid)


def test_loopback_by_default_and_a_warning_elsewhere():
    from xor_tui.cli.main import build_parser

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    for host in ("127.0.0.1", "localhost", "::1"):
        assert check_host(host, 8000, None) == (None, None)
    url, warning = check_host("0.0.0.0", 8000, None)
    assert "WARNING" in warning and "0.0.0.0" in warning and "no login" in warning
    assert url.endswith(":8000") and "0.0.0.0" not in url  # a wildcard is no address for a browser
    assert check_host("0.0.0.0", 8000, "https://class.example.org")[0] == "https://class.example.org"


def test_same_app_options_and_one_line_errors(capsys, monkeypatch):
    from xor_tui.cli import serve
    from xor_tui.cli.main import build_parser, main

    def no_such_host(host, *a, **k):  # no name lookup leaves this machine during the test
        if host == "no.such.host.invalid":
            raise serve.socket.gaierror(-2, "Name or service not known")
        return real_getaddrinfo(host, *a, **k)

    real_getaddrinfo = serve.socket.getaddrinfo
    monkeypatch.setattr(serve.socket, "getaddrinfo", no_such_host)

    assert app_command("case7", None).endswith("-m xor_tui --scenario case7")
    assert app_command(None, 5).endswith("-m xor_tui --seed 5")
    assert build_parser().parse_args(["serve", "--scenario", "case7"]).scenario == "case7"
    assert build_parser().parse_args(["--scenario", "case7", "serve"]).scenario == "case7"
    for bad, words in (
        (["--scenario", "no-such-thing"], "no-such-thing"),
        (["--seed", "-1"], "seed"),
        (["--scenario", "case1", "--seed", "3"], "not both"),
        (["--port", "70000"], "--port"),
        (["--host", "no.such.host.invalid"], "--host"),
    ):
        assert main(["serve", *bad]) == 2, bad  # refused before anything is served
        out = capsys.readouterr()
        assert out.err.startswith("xor-tui: ") and words in out.err, out.err
        assert out.out == ""
