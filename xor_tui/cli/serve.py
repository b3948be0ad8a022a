"""``xor-tui serve``: the app in a browser, through textual-serve.

Each browser page gets its own app process (``python -m xor_tui`` with the same options).
On top of textual-serve's own server this module:

- keeps reading an app's output after its page has gone, until the app exits, so the app
  never blocks writing to a pipe nobody reads (textual-serve stops reading at the first write
  to the closed page, which left the app stuck; see ``xor_tui/app/lifecycle.py``);
- makes sure an app whose page has closed is gone within a few seconds: "quit" first, then
  SIGTERM, then SIGKILL;
- prints one line on start, and warns when bound to anything but loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import shlex
import socket
import sys

from textual_serve.app_service import AppService
from textual_serve.server import Server

QUIT_WAIT = 1.0  # seconds an app gets to leave after "quit" before SIGTERM, then SIGKILL


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def app_command(scenario: str | None, seed: int | None) -> str:
    """The shell command that starts one app for one page (``exec``: no shell in between)."""
    argv = [sys.executable, "-m", "xor_tui"]
    if scenario:
        argv += ["--scenario", scenario]
    if seed is not None:
        argv += ["--seed", str(seed)]
    return "exec " + shlex.join(argv)


def check_host(host: str, port: int, public_url: str | None) -> tuple[str | None, str | None]:
    """(the public URL to use, a warning when ``host`` is reachable from other machines)."""
    addresses = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    if all(is_loopback(a) for a in addresses):
        return public_url, None
    if public_url is None and any(ipaddress.ip_address(a.split("%")[0]).is_unspecified for a in addresses):
        public_url = f"http://{socket.gethostname()}:{port}"  # 0.0.0.0 is no address a browser can use
    warning = (
        f"xor-tui serve: WARNING: listening on {host}, not only on this machine: anyone who can reach "
        f"port {port} here can open the app, with no login, and each page runs a process here. "
        f"Pages load from {public_url or f'http://{host}:{port}'} (--public-url changes that)."
    )
    return public_url, warning


class _AppService(AppService):
    """One page's app process, drained to the end and never left behind."""

    started = False  # the app has drawn something (before that it is still importing)

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


class XorServer(Server):
    def __init__(self, command: str, host: str, port: int, public_url: str | None) -> None:
        super().__init__(command, host=host, port=port, title="xor-tui", public_url=public_url)
        self.services: set[_AppService] = set()

    def initialize_logging(self) -> None:
        # no request log: one line on start, then only problems (an app stopped while it was
        # starting, because its page closed, is not one: textual-serve would say it "failed")
        logging.basicConfig(level="WARNING", format="xor-tui serve: %(message)s")
        logging.getLogger("textual-serve").addFilter(lambda r: r.getMessage() != "Application failed to start")

    async def on_startup(self, app) -> None:
        print(f"xor-tui serve: open {self.public_url} in a browser (Ctrl+C stops)", flush=True)

    async def on_shutdown(self, app) -> None:
        await asyncio.gather(*(s.stop() for s in list(self.services)), return_exceptions=True)

    async def handle_websocket(self, request):
        # textual-serve's handler, with our AppService (drained, never left behind)
        from aiohttp import web
        from textual_serve.server import to_int

        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service: _AppService | None = None
        try:
            await websocket.prepare(request)
            service = _AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
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
        return websocket


def cmd_serve(args, err) -> int:
    """Run the server until Ctrl+C or SIGTERM. ``err`` prints a one-line error and returns 2."""
    if not 1 <= args.port <= 65535:
        return err(f"--port must be from 1 to 65535, got {args.port}")
    if args.scenario and args.seed is not None:
        return err("give --scenario or --seed, not both")
    if args.scenario or args.seed is not None:  # check them now, not in every browser
        from xor_tui.core.engine.run import SpecError, check_seed
        from xor_tui.core.io.scenario import ScenarioError, resolve

        try:
            if args.scenario:
                resolve(args.scenario)
            else:
                check_seed(args.seed)
        except (ScenarioError, SpecError) as exc:
            return err(str(exc))
    try:
        public_url, warning = check_host(args.host, args.port, args.public_url)
    except OSError as exc:
        return err(f"--host {args.host}: {exc.strerror or exc}")
    if warning:
        print(warning, file=sys.stderr, flush=True)
    server = XorServer(app_command(args.scenario, args.seed), args.host, args.port, public_url)
    try:
        server.serve()
    except OSError as exc:
        return err(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}")
    return 0
