"""`xor-tui serve` in a real browser: headless Chromium (Debian's chromium-headless-shell)
driven by Playwright loads the page, plays, reads the screen back from xterm.js, quits; a
page closed during start-up leaves no app process behind."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from xor_tui.cli.serve import app_command, check_host

from .servehelp import (
    children,
    chromium,
    gone_within,
    kill_group,
    need_browser,
    new_app_page,
    screen,
    start_server,
    status_line,
    wait_for,
    wait_screen,
)


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """A folder outside the pages' own, holding the scenario the server is given."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "lesson.toml").write_text('name = "lesson"\n[start]\nseed = 11\n')
    return folder


@pytest.fixture(scope="module")
def served(outside):
    need_browser()
    proc, url = start_server("--scenario", str(outside / "lesson.toml"))
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
    # its key footer before any key or click (it stayed blank until the first key: no app focus)
    assert wait_for(lambda: "? Help" in screen(page)[-1]), screen(page)[-1]
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


def test_loopback_by_default_and_a_warning_elsewhere(monkeypatch):
    from xor_tui.cli import serve
    from xor_tui.cli.main import build_parser

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    for host in ("127.0.0.1", "localhost"):
        assert check_host(host, 8000, None) == ([f"http://{host}:8000"], None)
    assert check_host("::1", 8000, None) == (["http://[::1]:8000"], None)
    # for a class: on a wildcard address, the machine's own addresses (students may not
    # resolve its name); read from the kernel, no name lookup and no traffic
    monkeypatch.setattr(serve, "machine_addresses", lambda include_v6=False: ["192.0.2.7", "198.51.100.2"])
    urls, warning = check_host("0.0.0.0", 8000, None)
    assert urls == ["http://192.0.2.7:8000", "http://198.51.100.2:8000"]
    assert "WARNING" in warning and "0.0.0.0" in warning and "token" in warning
    assert check_host("0.0.0.0", 8000, "https://class.example.org")[0] == ["https://class.example.org"]
    monkeypatch.undo()
    import ipaddress

    for address in serve.machine_addresses(include_v6=True):
        assert not ipaddress.ip_address(address).is_loopback


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
    assert app_command(None, None, "/srv/r", True, 1000).endswith("-m xor_tui --root /srv/r --read-only --quota 1000")
    assert build_parser().parse_args(["serve", "--scenario", "case7"]).scenario == "case7"
    assert build_parser().parse_args(["--scenario", "case7", "serve"]).scenario == "case7"
    for bad, words in (
        (["--scenario", "no-such-thing"], "no-such-thing"),
        (["--seed", "-1"], "seed"),
        (["--scenario", "case1", "--seed", "3"], "not both"),
        (["--port", "70000"], "--port"),
        (["--host", "no.such.host.invalid"], "--host"),
        (["--token", "short"], "--token"),
        (["--token", "has spaces in it"], "--token"),
        (["--token", "abcdefgh", "--no-token"], "not both"),
        (["--quota", "lots"], "--quota"),
        (["--max-clients", "0"], "--max-clients"),
        (["--root", "/no/such/folder"], "no such folder"),
    ):
        assert main(["serve", *bad]) == 2, bad  # refused before anything is served
        out = capsys.readouterr()
        assert out.err.startswith("xor-tui: ") and words in out.err, out.err
        assert out.out == ""


# ---------------------------------------------------------------- guarded (issue 20)
def _base(url: str) -> str:
    return url.split("?", 1)[0]


def _token(url: str) -> str:
    return url.split("token=", 1)[1]


def _get(url: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _run(coro_fn, *args):
    """Run a coroutine in a thread of its own (Playwright's sync API keeps an event loop
    running in this one)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro_fn(*args)).result(timeout=120)


async def _websocket(url: str, path: str, query: str = "width=80&height=24"):
    """Open the page's websocket at ``path``: ('refused', HTTP status) or ('open', ws, session)."""
    import aiohttp

    session = aiohttp.ClientSession()
    ws_url = _base(url).replace("http://", "ws://") + path + "?" + query
    try:
        ws = await session.ws_connect(ws_url, timeout=aiohttp.ClientWSTimeout(ws_close=5))
    except aiohttp.WSServerHandshakeError as exc:
        await session.close()
        return "refused", exc.status
    return "open", ws, session


def test_no_token_no_page_and_no_app(served):
    """A page or a websocket without the token (or with another) is refused with HTTP 403 and
    starts no app process; with the token a websocket does start one (the count can see it)."""
    proc, url = served
    before = children(proc.pid)
    status, body = _get(_base(url))
    assert status == 403 and "access token" in body and "?token=" in body
    status, body = _get(_base(url) + "?token=" + "x" * 32)
    assert status == 403 and "token in this address is not this server" in body
    token = _token(url)
    for path in ("ws", "ws/", "ws/" + "x" * len(token), "ws/" + token[:-1], "ws/" + token + "x"):
        assert _run(_websocket, url, path) == ("refused", 403), path
    assert children(proc.pid) == before  # not one app process started
    # the websocket's address fetched as a page, with the token: a plain 400, no app, no traceback
    status, body = _get(_base(url) + "ws/" + token)
    assert status == 400 and "websocket only" in body
    assert children(proc.pid) == before
    assert _get(url)[0] == 200

    async def with_token():
        got = await _websocket(url, "ws/" + token)
        assert got[0] == "open"
        _, ws, session = got
        new = wait_for(lambda: children(proc.pid) - before, timeout=10, step=0.02)
        await ws.close()
        await session.close()
        return new

    new = _run(with_token)
    assert len(new) == 1 and gone_within(new.pop(), 10)
    # the token is said once, in the URL printed on start; never in what else the server printed
    assert sum(token in line for line in proc.said) == 1 and "open http://" in proc.said[0]


def test_a_page_without_the_token_says_why(served, browser):
    proc, url = served
    before = children(proc.pid)
    page = browser.new_page()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort())
    response = page.goto(_base(url))
    assert response.status == 403 and "access token" in page.text_content("body")
    page.close()
    assert children(proc.pid) == before


def test_the_terminal_size_is_clamped_wherever_it_enters(served):
    proc, url = served
    before = children(proc.pid)

    async def huge():
        _, ws, session = await _websocket(url, "ws/" + _token(url), "width=100000&height=-7")
        new = wait_for(lambda: children(proc.pid) - before, timeout=10, step=0.02)

        def read_environ() -> dict:  # the app's, once it is the app (before its exec: the server's)
            text = Path(f"/proc/{next(iter(new))}/environ").read_text()
            return dict(kv.split("=", 1) for kv in text.split("\0") if "=" in kv)

        environ = wait_for(lambda: (e := read_environ()) and "TEXTUAL_DRIVER" in e and e, timeout=10, step=0.02)
        await ws.close()
        await session.close()
        return new, environ

    new, environ = _run(huge)
    assert (environ["COLUMNS"], environ["ROWS"]) == ("500", "1")
    assert "XOR_TUI_TOKEN" not in environ
    assert gone_within(new.pop(), 10)


def test_resize_messages_are_clamped_and_malformed_ones_dropped():
    from xor_tui.cli.serve import MAX_COLS, MAX_ROWS, XorServer

    class Message:
        def __init__(self, data):
            from aiohttp import WSMsgType

            self.type, self.data = WSMsgType.TEXT, data

    class Page:  # what textual-serve's page sends, as the websocket gives it
        def __init__(self, *frames):
            self.frames, self.sent = list(frames), []

        def __aiter__(self):
            return self

        async def __anext__(self):
            if not self.frames:
                raise StopAsyncIteration
            return Message(self.frames.pop(0))

        async def send_json(self, data):
            self.sent.append(data)

    class App:
        def __init__(self):
            self.sizes, self.typed = [], []

        async def set_terminal_size(self, w, h):
            self.sizes.append((w, h))

        async def send_bytes(self, data):
            self.typed.append(data)

    page = Page(
        '["resize", {"width": 100000, "height": 100000}]',
        '["resize", {"width": 501, "height": 201}]',
        '["resize", {"width": 500, "height": 200}]',
        '["resize", {"width": "1e9", "height": null}]',
        '["resize", "no"]',
        "not json",
        "[]",
        '["stdin", 5]',
        '["stdin", ""]',  # empty: Textual's key parser took it for the end of its input, and the app ended
        '["stdin", "q"]',
        '["ping", "1"]',
    )
    app = App()
    server = XorServer("true", "127.0.0.1", 1, ["http://127.0.0.1:1"], "t" * 8, 1)
    _run(server._process_messages, page, app)
    assert app.sizes == [(MAX_COLS, MAX_ROWS), (500, 200), (500, 200), (80, 24)]
    assert app.typed == [b"q"] and page.sent == [["pong", "1"]]


def _type(page, text: str) -> None:
    """Type ``text`` in the dialog's field (whole: keys typed while the dialog was still taking
    the focus could be lost, so it is typed again until the field shows all of it), then Enter."""
    shown = re.compile(r"[▊|]\s+" + re.escape(text) + r"\s")
    for _ in range(3):
        page.keyboard.press("End")
        page.keyboard.press("Control+u")
        page.keyboard.type(text)
        if wait_for(lambda: shown.search("\n".join(screen(page))), timeout=5):
            break
    page.keyboard.press("Enter")


def test_f_w_and_i_of_a_page_stay_in_its_folder(served, browser, outside):
    """Through a real page: an absolute path, '..' and a symbolic link out are refused for f
    and w with their reason; i saves into the folder even for a scenario the server was given
    from elsewhere, and says where without the server's own path."""
    proc, url = served
    root = Path(proc.root)
    (root / "away").symlink_to(outside, target_is_directory=True)
    page, app_pid = new_app_page(browser, url, proc.pid)
    wait_screen(page, r"epoch 0\b")
    page.click("#terminal")
    for key, text, why in (
        ("f", "/etc/hostname", "absolute"),  # one word: the dialog wraps its message
        ("f", "../lesson.toml", "'..'"),
        ("f", "away/lesson.toml", "symbolic"),
        ("w", "/tmp/escaped.toml", "absolute"),
        ("w", "../escaped.toml", "'..'"),
        ("w", "away/escaped.toml", "symbolic"),
    ):
        title = "Scenario file" if key == "f" else "Save the session"
        page.keyboard.press(key)
        wait_screen(page, title, timeout=15)
        _type(page, text)
        wait_screen(page, re.escape(why), timeout=15)
        page.keyboard.press("Escape")
        assert wait_for(lambda t=title: t not in "\n".join(screen(page)), timeout=15), "the dialog stayed"
    page.keyboard.press("i")
    lines = wait_screen(page, r"Saved the screen as lesson-epoch0-1\.svg", timeout=15)
    assert str(root) not in "\n".join(lines)
    assert (root / "lesson-epoch0-1.svg").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["lesson.toml"]
    assert not Path("/tmp/escaped.toml").exists()
    page.keyboard.press("q")
    assert gone_within(app_pid, 5)
    page.close()


def test_a_page_whose_script_cannot_load_says_so(served, browser):
    proc, url = served
    before = children(proc.pid)
    page = browser.new_page()
    page.route(re.compile(r"^(?!http://127\.0\.0\.1)|/static/js/textual\.js$"), lambda route: route.abort())
    page.goto(url)
    page.wait_for_function("document.body && document.body.classList.contains('-closed')", timeout=15_000)
    assert "did not load" in page.text_content(".closed-dialog .message")
    page.close()
    assert children(proc.pid) == before


def test_max_clients_the_page_over_the_limit_says_why(browser):
    proc, url = start_server("--max-clients", "1")
    try:
        # page B is served while a place is free; its script is held back until page A has
        # taken the last place: B's websocket is then refused, and B says why
        held = []
        late = browser.new_page()
        late.route(re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort())
        late.route(re.compile(r"/static/js/textual\.js$"), lambda route: held.append(route))
        late.goto(url, wait_until="commit")
        # Playwright hands over the request while it runs: poll through it, with a deadline
        assert wait_for(lambda: held or late.wait_for_timeout(20) or held, timeout=15), "no script asked for"
        first, first_pid = new_app_page(browser, url, proc.pid)
        before = children(proc.pid)
        held[0].continue_()
        late.wait_for_function("document.body && document.body.classList.contains('-closed')", timeout=15_000)
        assert "the server is full" in late.text_content(".closed-dialog .message")
        late.close()
        # a page opened now: refused at once, and why
        page = browser.new_page()
        page.route(re.compile(r"^(?!http://127\.0\.0\.1)"), lambda route: route.abort())
        response = page.goto(url)
        assert response.status == 503 and "the server is full" in page.text_content("body")
        page.close()
        assert children(proc.pid) == before  # no second app
        first.close()
        assert gone_within(first_pid, 10)
        # the place is free again
        again, again_pid = new_app_page(browser, url, proc.pid)
        again.close()
        assert gone_within(again_pid, 10)
    finally:
        kill_group(proc)


def test_a_port_in_use_fails_with_one_line_and_no_url(tmp_path, capsys):
    import socket

    from xor_tui.cli.main import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--root", str(tmp_path)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "http://" not in out.err
    assert out.err.startswith("xor-tui: cannot serve on") and out.err.count("\n") == 1
    assert "in use" in out.err


def test_token_sources_and_the_no_token_warning(monkeypatch):
    from argparse import Namespace

    from xor_tui.cli.serve import _AppService, _token

    monkeypatch.delenv("XOR_TUI_TOKEN", raising=False)
    a, b = _token(Namespace(no_token=False, token=None)), _token(Namespace(no_token=False, token=None))
    assert a[0] != b[0] and len(a[0]) >= 32 and a[1] is None  # a new random one each start
    assert _token(Namespace(no_token=False, token="given-token")) == ("given-token", None)
    monkeypatch.setenv("XOR_TUI_TOKEN", "from-the-environment")
    assert _token(Namespace(no_token=False, token=None)) == ("from-the-environment", None)
    token, warning = _token(Namespace(no_token=True, token=None))
    assert token is None and warning.startswith("xor-tui serve: WARNING: --no-token")
    env = _AppService("true", write_bytes=None, write_str=None, close=None, download_manager=None)
    assert "XOR_TUI_TOKEN" not in env._build_environment(10**6, 10**6)
    assert env._build_environment(10**6, 10**6)["COLUMNS"] == "500"
