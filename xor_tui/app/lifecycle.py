"""Leaving promptly: SIGTERM, SIGHUP and a closed web client end the app within ~1.5 s,
whatever it is doing.

Why this exists (issue 13): under textual-serve the app writes its screen to a pipe that the
server reads. When the browser goes away, textual-serve stops reading that pipe at the first
write that fails, then sends "quit" on stdin. If the app still has a screen's worth of output
to write (a full redraw at start-up is 60-120 kB, a pipe holds 64 kB), Textual's WebDriver
blocks in ``os.write`` on the event loop's thread: the quit message and the SIGTERM handler
(``loop.add_signal_handler``) both wait for that loop, so the process never leaves; only
SIGHUP (not handled, so fatal) or SIGKILL ended it. ``py-spy dump`` of such a process:
``WebDriver.write <- App._display <- Screen._compositor_refresh <- Screen._on_resize``.

The remedy here, installed by one call (:func:`install`) before ``app.run()``:

- SIGTERM and SIGHUP get Python-level handlers (these run even while the main thread is
  blocked in a system call, unlike an event-loop handler): they ask the app to exit and arm
  a watchdog that ends the process if the orderly exit has not finished in time;
- under the web driver, a "quit" from the server and the end of stdin (the server is gone)
  do the same;
- any orderly exit arms the watchdog too, so a worker thread or a blocked write cannot keep
  a finished app's process alive, and :func:`leave` then ends the process without the
  interpreter's slow teardown.

The server side (``xor_tui/serve.py``) also keeps draining the app's output until it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from typing import NoReturn

GRACE = 1.5  # seconds an orderly exit may take before the process is ended
HUP_GRACE = 0.5  # after SIGHUP: the terminal has (most likely) gone, and writes to it can hang
RESTORE_WAIT = 0.2  # seconds the forced exit waits for the terminal to be restored


def install(app, grace: float = GRACE) -> None:
    """Make ``app`` (not yet running) leave promptly on signals and on a closed client."""
    app.driver_class = _robust(app.driver_class, app, grace)


def leave(code: int) -> NoReturn:
    """End the process now, once the app has finished: the interpreter's own teardown of
    PyTorch's and Textual's modules takes 1-2 s on a busy machine (measured: the process
    lingered 1.7 s after its last atexit handler) and does nothing a finished app needs."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _robust(base: type, app, grace: float) -> type:
    state = {"armed": False}

    def hard_exit(code: int) -> None:
        # the terminal restored on a thread of its own, waited for briefly: a write to a
        # terminal that nobody reads any more blocks, and the exit must not wait for it
        t = threading.Thread(target=_restore_terminal, args=(app,), daemon=True)
        t.start()
        t.join(RESTORE_WAIT)
        os._exit(code)

    def arm(code: int, wait: float = grace) -> None:
        if state["armed"]:
            return
        state["armed"] = True
        # the restore's wait is part of the grace: the process is gone ``wait`` after the request
        t = threading.Timer(max(wait - RESTORE_WAIT, 0.0), hard_exit, args=(code,))
        t.daemon = True
        t.start()

    def request_exit(loop: asyncio.AbstractEventLoop, code: int, wait: float = grace) -> None:
        arm(code, wait)
        with contextlib.suppress(RuntimeError):  # a closed loop: the process is leaving anyway
            loop.call_soon_threadsafe(lambda: app.exit(return_code=code))

    class Robust(base):
        def start_application_mode(self) -> None:
            super().start_application_mode()
            loop = asyncio.get_running_loop()
            self._xor_loop = loop

            def on_signal(signum, _frame) -> None:
                if state["armed"]:  # a second signal: leave now
                    hard_exit(128 + signum)
                request_exit(loop, 128 + signum, min(grace, HUP_GRACE) if signum == signal.SIGHUP else grace)

            # after the driver's own handlers, so these win (set_wakeup_fd still wakes the loop)
            for name in ("SIGTERM", "SIGHUP"):  # no SIGHUP on Windows
                if hasattr(signal, name):
                    signal.signal(getattr(signal, name), on_signal)

        def stop_application_mode(self) -> None:
            if not getattr(self, "_xor_suspending", False):  # an exit, not a suspend (ctrl+z)
                arm(app.return_code or 0)
            super().stop_application_mode()

        def suspend_application_mode(self) -> None:
            self._xor_suspending = True
            try:
                super().suspend_application_mode()
            finally:
                self._xor_suspending = False

        # web driver only: a quit from the server, or stdin closing (the server is gone)
        def on_meta(self, packet_type: str, payload: dict) -> None:
            if packet_type == "quit":
                arm(0)
            super().on_meta(packet_type, payload)

        def run_input_thread(self) -> None:
            super().run_input_thread()
            loop = getattr(self, "_xor_loop", None)
            if loop is not None and not state["armed"]:
                request_exit(loop, 0)

    if not hasattr(base, "on_meta"):
        del Robust.on_meta
    if not hasattr(base, "run_input_thread"):
        del Robust.run_input_thread
    Robust.__name__ = Robust.__qualname__ = f"Robust{base.__name__}"
    return Robust


def _restore_terminal(app) -> None:
    """Best effort before a forced exit: leave the alternate screen and raw mode."""
    driver = getattr(app, "_driver", None)
    attrs = getattr(driver, "attrs_before", None)
    fileno = getattr(driver, "fileno", None)
    if attrs is None or fileno is None or getattr(driver, "is_web", False):
        return
    try:
        import termios

        os.write(fileno, b"\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l\x1b[?2004l\x1b[?25h\x1b[?1049l")
        termios.tcsetattr(fileno, termios.TCSANOW, attrs)
    except Exception:  # noqa: BLE001 - nothing more to do on the way out
        pass
