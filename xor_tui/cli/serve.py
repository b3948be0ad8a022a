"""``xor-tui serve``: the app in a browser, through textual-serve.

Each browser page gets its own app process (``python -m xor_tui`` with the same options).
On top of textual-serve's own server this module:

- lets in only who holds the server's access token (a new random one per start, or
  ``--token``/``XOR_TUI_TOKEN``): a page or websocket without it gets HTTP 403 and no app
  process is started; tokens are compared in constant time;
- confines each page's app to one folder (``--root``), optionally read-only, with a quota of
  bytes written per page (the rule itself is the core's: ``xor_tui/core/io/folder.py``);
- clamps the terminal size wherever it enters (the websocket URL, later resize messages) and
  caps the pages open at once (``--max-clients``), a refused page saying why on the page;
- binds the port before saying anything, so a port in use fails with one line and no URL;
- keeps reading an app's output after its page has gone, until the app exits, so the app
  never blocks writing to a pipe nobody reads (textual-serve stops reading at the first write
  to the closed page, which left the app stuck; see ``xor_tui/app/lifecycle.py``);
- makes sure an app whose page has closed is gone within a few seconds: "quit" first, then
  SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import ipaddress
import json
import logging
import os
import re
import secrets
import shlex
import socket
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from textual_serve.app_service import AppService
from textual_serve.server import Server

QUIT_WAIT = 1.0  # seconds an app gets to leave after "quit" before SIGTERM, then SIGKILL
MAX_COLS, MAX_ROWS = 500, 200  # the largest terminal a page may ask for (an app's memory grows with it)
TOKEN_ENV = "XOR_TUI_TOKEN"
TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{8,256}")  # what goes into a URL as it is
# memory one page's app process takes at its largest: its PSS (its share of the machine's
# memory: RSS counts the libraries all apps share once per app), worst measured 245 MB (RSS
# 354 MB) at 500x200 cells and at a 100000x100000 request (clamped), playing at 240/s, then
# case 7 run to its end; --max-clients defaults to as many as fit in a quarter of memory
APP_MEMORY = 250_000_000
CLOSE_TRY_LATER = 1013  # websocket close code: "try again later"


def is_loopback(host: str) -> bool:
    """True for names and addresses of this machine only (localhost, 127.x, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(
    scenario: str | None,
    seed: int | None,
    root: str | None = None,
    read_only: bool = False,
    quota: int | None = None,
) -> str:
    """The shell command that starts one app for one page (``exec``: no shell in between)."""
    argv = [sys.executable, "-m", "xor_tui"]
    if scenario:
        argv += ["--scenario", scenario]
    if seed is not None:
        argv += ["--seed", str(seed)]
    if root is not None:
        argv += ["--root", root]
    if read_only:
        argv += ["--read-only"]
    if quota is not None:
        argv += ["--quota", str(quota)]
    return "exec " + shlex.join(argv)


def machine_addresses(include_v6: bool = False) -> list[str]:
    """This machine's own addresses other than loopback (what another machine on the network
    can use): IPv4 from each interface, and global IPv6 ones when ``include_v6``. Read from
    the kernel (no name lookup, no traffic); empty where that is not possible."""
    found: list[str] = []
    with contextlib.suppress(OSError, AttributeError, ImportError):
        import fcntl
        import struct

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _, name in socket.if_nameindex():
                try:
                    req = struct.pack("256s", name.encode()[:15])
                    addr = socket.inet_ntoa(fcntl.ioctl(s.fileno(), 0x8915, req)[20:24])  # SIOCGIFADDR
                except OSError:
                    continue  # an interface with no IPv4 address
                if not ipaddress.ip_address(addr).is_loopback and addr not in found:
                    found.append(addr)
    if include_v6:
        with contextlib.suppress(OSError, ValueError):
            for line in Path("/proc/net/if_inet6").read_text().splitlines():
                raw = line.split()[0]
                ip6 = ipaddress.IPv6Address(int(raw, 16))
                if not (ip6.is_loopback or ip6.is_link_local or ip6.is_unspecified):
                    found.append(str(ip6))
    return found


def check_host(host: str, port: int, public_url: str | None) -> tuple[list[str], str | None]:
    """(the base URLs to print, a warning when ``host`` is reachable from other machines).

    On a wildcard address (0.0.0.0, ::) the URLs are this machine's own addresses: a name
    such as the machine's host name may not resolve on the students' machines."""
    # an IPv4 or IPv6 socket address begins with its host as text (str(): for the type checker,
    # which also allows the (int, bytes) addresses of other families)
    addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    if public_url is not None:
        urls = [public_url.rstrip("/")]
    elif all(is_loopback(a) for a in addresses):
        urls = [f"http://{host if ':' not in host else f'[{host}]'}:{port}"]
    else:
        urls = []
        for a in sorted(addresses):
            ip = ipaddress.ip_address(a.split("%")[0])
            if ip.is_unspecified:  # 0.0.0.0 or :: is no address a browser can use
                urls += [_url(m, port) for m in machine_addresses(include_v6=ip.version == 6)]
            else:
                urls.append(_url(str(ip), port))
        urls = list(dict.fromkeys(urls)) or [f"http://{host}:{port}"]
    if all(is_loopback(a) for a in addresses):
        return urls, None
    warning = (
        f"xor-tui serve: WARNING: listening on {host}, not only on this machine: anyone who can reach "
        f"port {port} here and holds the token can open the app; each page runs a process here, as you"
    )
    return urls, warning


def _url(address: str, port: int) -> str:
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


def bind(host: str, port: int) -> list[socket.socket]:
    """Listening sockets on every address of ``host`` (as aiohttp would make them), made now:
    a port in use is found before anything is printed. Raises OSError."""
    socks: list[socket.socket] = []
    try:
        seen = set()
        for family, _, _, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            if addr[:2] in seen:
                continue
            seen.add(addr[:2])
            socks.append(socket.create_server(addr[:2], family=family, backlog=128))
    except OSError:
        for s in socks:
            s.close()
        raise
    return socks


def default_max_clients() -> tuple[int, int]:
    """(pages at once so that their apps fit in a quarter of this machine's memory, that memory)."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 4 * 10**9
    return max(1, memory // 4 // APP_MEMORY), memory


def token_matches(given: str | None, token: str | None) -> bool:
    """Whether a request's token is the server's, compared in constant time (None: no token needed)."""
    if token is None:
        return True
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def clamp_size(width: object, height: object, default: tuple[int, int] = (80, 24)) -> tuple[int, int]:
    """A terminal size a page asked for, as whole cells from 1x1 to MAX_COLS x MAX_ROWS (what
    is not a number takes the default)."""

    def whole(value: object, fallback: int, top: int) -> int:
        try:
            n = int(str(value)[:12]) if not isinstance(value, int) else value
        except ValueError:
            n = fallback
        return min(max(n, 1), top)

    return whole(width, default[0], MAX_COLS), whole(height, default[1], MAX_ROWS)


class _AppService(AppService):
    """One page's app process, drained to the end and never left behind."""

    started = False  # the app has drawn something (before that it is still importing)

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(*clamp_size(width, height))
        env.pop(TOKEN_ENV, None)  # the app has no use for the server's token
        return env

    async def on_data(self, payload: bytes) -> None:
        self.started = True
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.remote_write_bytes(payload)  # the page gone: keep reading (dropping) till the app exits

    async def on_meta(self, data: bytes) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await super().on_meta(data)

    async def stop(self) -> None:
        process = self._process
        if process is None:
            return
        if self._task is not None:
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
            await self.send_meta({"type": "quit"})
        # an app still starting cannot read "quit" yet: SIGTERM ends it at once
        steps = (None, process.terminate, process.kill) if self.started else (process.terminate, process.kill)
        for step in steps:
            if process.returncode is not None:
                break
            if step is not None:
                try:
                    step()
                except ProcessLookupError:
                    break
            try:
                await asyncio.wait_for(asyncio.shield(process.wait()), QUIT_WAIT)
            except TimeoutError:
                continue
        if self._task is not None:
            task, self._task = self._task, None
            await task


def _page(title: str, text: str, status: int):
    from aiohttp import web

    body = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>xor-tui: "
        f"{html.escape(title)}</title></head><body style='background:#0c181f;color:#eee;"
        "font:16px monospace;padding:2em'>"
        f"<h1>xor-tui: {html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return web.Response(text=body, status=status, content_type="text/html", headers={"Cache-Control": "no-store"})


class XorServer(Server):
    """textual-serve's server with a token, a folder per server, limits, and apps never left behind."""

    def __init__(
        self,
        command: str,
        host: str,
        port: int,
        urls: list[str],
        token: str | None,
        max_clients: int,
        notes: list[str] | None = None,
    ) -> None:
        super().__init__(command, host=host, port=port, title="xor-tui", public_url=urls[0])
        self.urls = urls
        self.token = token
        self.max_clients = max_clients
        self.notes = notes or []
        self.clients = 0  # pages with an app (or one starting)
        self.services: set[_AppService] = set()
        self.templates_path = Path(__file__).resolve().parent / "templates"

    def initialize_logging(self) -> None:
        # no request log (it would hold the token): one line on start, then only problems (an
        # app stopped while it was starting, because its page closed, is not one: textual-serve
        # would say it "failed")
        logging.basicConfig(level="WARNING", format="xor-tui serve: %(message)s")
        logging.getLogger("textual-serve").addFilter(lambda r: r.getMessage() != "Application failed to start")

    def page_urls(self) -> list[str]:
        """The URLs to open, each with the token."""
        query = "" if self.token is None else f"?token={quote(self.token, safe='')}"
        return [f"{u}/{query}" for u in self.urls]

    async def on_startup(self, app) -> None:
        urls = self.page_urls()
        more = f" (or, from another machine: {', '.join(urls[1:])})" if len(urls) > 1 else ""
        print(f"xor-tui serve: open {urls[0]} in a browser{more}; Ctrl+C stops", flush=True)
        for note in self.notes:
            print(f"xor-tui serve: {note}", flush=True)

    async def on_shutdown(self, app) -> None:
        await asyncio.gather(*(s.stop() for s in list(self.services)), return_exceptions=True)

    async def _make_app(self):
        import aiohttp_jinja2
        import jinja2
        from aiohttp import web

        app = web.Application()
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_websocket),  # no token: refused
                web.get("/ws/", self.handle_websocket),
                web.get("/ws/{token}", self.handle_websocket, name="websocket"),
                web.static("/static", self.statics_path, name="static"),  # the page's scripts: the same for all
            ]
        )
        app.on_startup.append(self.on_startup)
        app.on_shutdown.append(self.on_shutdown)
        return app

    def refusal(self, given: str | None) -> str | None:
        """Why a request with token ``given`` is refused, or None."""
        if token_matches(given, self.token):
            return None
        if not given:
            return (
                "This server lets in only who holds its access token. Open the whole address that "
                "`xor-tui serve` printed: it ends in ?token=..."
            )
        return (
            "The token in this address is not this server's (it makes a new one each time it starts, "
            "unless given --token). Open the address it printed this time."
        )

    def full(self) -> str | None:
        """Why one more page is refused (every place taken), or None."""
        if self.clients < self.max_clients:
            return None
        return (
            f"Refused: the server is full ({_pages(self.max_clients)} open, the most it allows: "
            "--max-clients). Close a page or try again later."
        )

    async def handle_index(self, request):
        import aiohttp_jinja2

        why = self.refusal(request.query.get("token"))
        if why:
            return _page("access token needed", why, 403)
        why = self.full()
        if why:
            return _page("the server is full", why, 503)
        font_size = min(max(_to_int(request.query.get("fontsize"), 16), 6), 64)
        context = {"font_size": font_size, "token": self.token or "-", "title": self.title}
        response = aiohttp_jinja2.render_template("serve_page.html", request, context)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the address holds the token
        return response

    async def handle_websocket(self, request):
        # textual-serve's handler, with the token checked, the size clamped, the number of
        # pages capped, and our AppService (drained, never left behind)
        from aiohttp import web

        given = request.match_info.get("token")
        if self.token is not None and not token_matches(given, self.token):
            return web.Response(status=403, text="xor-tui: access token needed\n")
        width, height = clamp_size(request.query.get("width", "80"), request.query.get("height", "24"))
        websocket = web.WebSocketResponse(heartbeat=15, max_msg_size=1 << 20)
        if not websocket.can_prepare(request).ok:  # a plain GET (aiohttp raised and logged a traceback)
            return web.Response(status=400, text="xor-tui: this address takes a page's websocket only\n")
        why = self.full()
        if why:  # accepted only to say why on the page (a refused handshake shows nothing)
            await websocket.prepare(request)
            await websocket.close(code=CLOSE_TRY_LATER, message=why[:120].encode())
            return websocket
        self.clients += 1  # taken before the first await: two pages cannot both take the last place
        service: _AppService | None = None
        try:
            await websocket.prepare(request)
            service = _AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,  # type: ignore[arg-type]  # returns a bool, which AppService ignores
                download_manager=self.download_manager,
                debug=self.debug,
            )
            self.services.add(service)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # noqa: BLE001 - one page's failure must not stop the server
            logging.getLogger("textual-serve").warning("page connection failed: %s", error)
        finally:
            if service is not None:
                await asyncio.shield(service.stop())
                self.services.discard(service)
            self.clients -= 1
        return websocket

    async def _process_messages(self, websocket, app_service) -> None:
        """textual-serve's protocol from the page, checked: a resize is clamped, anything
        malformed is dropped (the page stays)."""
        from aiohttp import WSMsgType

        async for message in websocket:
            if message.type != WSMsgType.TEXT:
                continue
            try:
                envelope = json.loads(message.data)
            except ValueError:
                continue
            if not isinstance(envelope, list) or not envelope:
                continue
            kind, data = envelope[0], envelope[1] if len(envelope) > 1 else None
            if kind == "stdin" and isinstance(data, str) and data:  # empty: Textual's parser ends its input
                await app_service.send_bytes(data.encode("utf-8", "replace"))
            elif kind == "resize" and isinstance(data, dict):
                await app_service.set_terminal_size(*clamp_size(data.get("width"), data.get("height")))
            elif kind == "ping" and isinstance(data, (str, int, float)):
                await websocket.send_json(["pong", data])
            elif kind == "blur":
                await app_service.blur()
            elif kind == "focus":
                await app_service.focus()

    def serve_on(self, socks: list[socket.socket]) -> None:
        """Serve on sockets already bound (see :func:`bind`) until Ctrl+C or SIGTERM."""
        import signal

        from aiohttp import web

        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, self.request_exit)
            loop.add_signal_handler(signal.SIGTERM, self.request_exit)
        web.run_app(self._make_app(), sock=socks, handle_signals=False, loop=loop, print=None, access_log=None)


def _pages(n: int) -> str:
    return "1 page" if n == 1 else f"{n} pages"


def _to_int(value: object, default: int) -> int:
    try:
        return int(str(value)[:6])
    except ValueError:
        return default


def _root(args) -> tuple[str, str]:
    """(the folder pages reach, how it is said on start); a new folder of the server's own
    unless --root names one. Raises OSError or ValueError with the reason."""
    from xor_tui.core.io.files import os_refuses

    if args.root is not None:
        why = os_refuses(args.root)
        if why:
            raise ValueError(f"--root: {why}")
        if not os.path.isdir(args.root):
            raise ValueError(f"--root {args.root}: no such folder")
        return os.path.realpath(args.root), f"pages reach only files in {os.path.realpath(args.root)} (--root)"
    try:
        root = tempfile.mkdtemp(prefix="xor-tui-serve-", dir=".")
    except OSError:  # the current folder is not writable: a temporary one
        root = tempfile.mkdtemp(prefix="xor-tui-serve-")
    root = os.path.realpath(root)
    return root, f"pages reach only files in {root}, a new folder of this server's (--root DIR: another)"


def _token(args) -> tuple[str | None, str | None]:
    """(the token, a warning to print); ValueError for a token that cannot be used."""
    if args.no_token:
        if args.token is not None:
            raise ValueError("give --token or --no-token, not both")
        return None, (
            "xor-tui serve: WARNING: --no-token: anyone who can reach this port opens the app, "
            "which runs as you; on a machine with other users, loopback is no protection"
        )
    token = args.token if args.token is not None else os.environ.get(TOKEN_ENV) or None
    if token is None:
        return secrets.token_urlsafe(24), None
    where = "--token" if args.token is not None else TOKEN_ENV
    if not TOKEN_RE.fullmatch(token):
        raise ValueError(f"{where}: use 8 to 256 letters, digits, '.', '_', '~' or '-'")
    return token, None


def cmd_serve(args, err) -> int:
    """Run the server until Ctrl+C or SIGTERM. ``err`` prints a one-line error and returns 2."""
    from xor_tui.core.io.folder import DEFAULT_QUOTA, parse_size

    if not 1 <= args.port <= 65535:
        return err(f"--port must be from 1 to 65535, got {args.port}")
    if args.scenario and args.seed is not None:
        return err("give --scenario or --seed, not both")
    scenario = args.scenario
    if args.scenario or args.seed is not None:  # check them now, not in every browser
        from xor_tui.core.engine.run import SpecError, check_seed
        from xor_tui.core.io.scenario import ScenarioError, builtin_names, resolve

        try:
            if args.scenario:
                resolve(args.scenario)
                if args.scenario not in builtin_names():
                    scenario = os.path.abspath(args.scenario)  # the apps work in the root folder
            else:
                check_seed(args.seed)
        except (ScenarioError, SpecError) as exc:
            return err(str(exc))
    try:
        token, token_warning = _token(args)
    except ValueError as exc:
        return err(str(exc))
    try:
        quota = DEFAULT_QUOTA if args.quota is None else parse_size(args.quota)
    except ValueError as exc:
        return err(f"--quota: {exc}")
    if args.max_clients is not None and not 1 <= args.max_clients <= 10_000:
        return err(f"--max-clients must be from 1 to 10000, got {args.max_clients}")
    try:
        urls, warning = check_host(args.host, args.port, args.public_url)
    except OSError as exc:
        return err(f"--host {args.host}: {exc.strerror or exc}")
    if args.root is not None:  # a folder named is checked before anything is bound
        try:
            _root(args)
        except (OSError, ValueError) as exc:
            return err(str(exc))
    try:
        socks = bind(args.host, args.port)
    except OSError as exc:
        return err(f"cannot serve on {args.host}:{args.port}: {os.strerror(exc.errno) if exc.errno else exc}")
    try:
        root, root_note = _root(args)
    except (OSError, ValueError) as exc:
        for s in socks:
            s.close()
        return err(str(exc) if isinstance(exc, ValueError) else f"cannot make a folder for the pages: {exc}")
    for line in (token_warning, warning):
        if line:
            print(line, file=sys.stderr, flush=True)
    fit, memory = default_max_clients()
    max_clients = args.max_clients or fit
    notes = [
        root_note,
        "pages may not write (--read-only)"
        if args.read_only
        else f"each page writes at most {quota / 1e6:g} MB there (--quota)",
        f"at most {_pages(max_clients)} at once (--max-clients"
        + (
            ")"
            if args.max_clients
            else f"; each app takes up to {APP_MEMORY / 1e6:.0f} MB: {fit} fit in a quarter of "
            f"this machine's {memory / 2**30:.1f} GiB)"
        ),
    ]
    command = app_command(scenario, args.seed, root, args.read_only, quota)
    server = XorServer(command, args.host, args.port, urls, token, max_clients, notes)
    try:
        server.serve_on(socks)
    finally:
        for s in socks:
            s.close()
    return 0
