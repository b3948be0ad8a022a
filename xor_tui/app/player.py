"""The Player: the play clock, its speed and the background run (to the end, to the next
event, a seed search). It steps the App's session and reports through typed Messages."""

from __future__ import annotations

import collections
import random
import time
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message
from textual.widget import Widget
from textual.worker import get_current_worker

from xor_tui.core.session import Cancelled, RunHalted, Session, find_seed, load_printout

if TYPE_CHECKING:
    from textual import getters
    from textual.timer import Timer

    from xor_tui.app.main import XorApp

SPEEDS = (1, 2, 5, 10, 30, 60, 120, 240)
DEFAULT_SPEED = 30


class Player(Widget):
    """Not drawn; mounted on the MainScreen so its timer and workers live with it."""

    DEFAULT_CSS = "Player { display: none; }"

    class Stepped(Message):
        """The session moved (play, a step, a running run): redraw."""

    class Halted(Message):
        """A step was refused because training has halted; play has stopped."""

        def __init__(self, text: str) -> None:
            self.text = text
            super().__init__()

    class Changed(Message):
        """Playing, busy or the speed changed."""

    class Note(Message):
        """A one-line remark from a background run (its fused kernel is being compiled)."""

        def __init__(self, text: str) -> None:
            self.text = text
            super().__init__()

    class RunFinished(Message):
        """A background run ended: ``reason`` is end, stopped, event, halted or fixed;
        ``looking_for_event``: it was a run to the next event (its "end" found none)."""

        def __init__(self, reason: str, looking_for_event: bool = False) -> None:
            self.reason, self.looking_for_event = reason, looking_for_event
            super().__init__()

    class SeedFound(Message):
        """A seed search ended (``seed`` None when none was found)."""

        def __init__(self, case: int, seed: int | None) -> None:
            self.case, self.seed = case, seed
            super().__init__()

    class LogLoaded(Message):
        """A printout log was read and its start recovered: ``scenario``, or ``error`` (one line),
        or ``cancelled`` (x, escape or quit stopped it: nothing was loaded)."""

        def __init__(self, path: str, scenario=None, error: str = "", cancelled: bool = False) -> None:
            self.path, self.scenario, self.error, self.cancelled = path, scenario, error, cancelled
            super().__init__()

    def __init__(self) -> None:
        super().__init__()
        self.speed = DEFAULT_SPEED
        self.playing = False
        self.busy = False  # a background run or search is going
        self._stop_requested = False
        self._timer: Timer | None = None
        self._play_from = (0.0, 0)
        self._reached: collections.deque = collections.deque([(0.0, 0)])  # (time, epoch) while playing

    if TYPE_CHECKING:  # mounted on the MainScreen, which is XorApp's own, never another app's
        app = getters.app(lambda: XorApp)  # (Textual's typed app property, for the checker)

    @property
    def session(self) -> Session:
        return self.app.session

    # ------------------------------------------------------------ stepping
    def step(self, epochs: int = 1) -> bool:
        """Step ``epochs`` times on the UI thread; a halt pauses play and says what to do."""
        try:
            for _ in range(epochs):
                self.session.step()
        except RunHalted as exc:
            self.pause()
            self.post_message(self.Stepped())
            self.post_message(
                self.Halted(
                    f"{exc}. y says why; step back (b), edit a weight (enter) or swap an activation (h/o) to go on."
                )
            )
            return False
        self.post_message(self.Stepped())
        return True

    # ------------------------------------------------------------ play clock
    def toggle(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self.session.record.halted:
            self.post_message(self.Halted("Training has halted: step back (b) or change something first."))
            return
        self.playing = True
        self._schedule()
        self.post_message(self.Changed())

    def pause(self) -> None:
        was = self.playing
        self.playing = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if was:
            self.post_message(self.Changed())

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._play_from = (time.monotonic(), self.session.epoch)
        self._reached = collections.deque([self._play_from])
        self._timer = self.set_interval(1 / min(self.speed, 60), self._tick)

    def _tick(self) -> None:
        """Step as many epochs as the speed asks for since play began (drawing once), so the
        rate holds even when a redraw takes longer than a timer period."""
        if not self.playing:
            return
        t0, e0 = self._play_from
        now = time.monotonic()
        due = e0 + int((now - t0) * self.speed) - self.session.epoch
        self.step(min(max(due, 1), 20))
        now = time.monotonic()  # the epochs reached by now
        self._reached.append((now, self.session.epoch))
        while now - self._reached[0][0] > 2.0:
            self._reached.popleft()

    def play_text(self) -> str:
        """What the status line says while playing: the speed asked for, and the rate really
        reached over the last seconds when a busy machine keeps it below that."""
        (t0, e0), (t1, e1) = self._reached[0], self._reached[-1]
        if t1 - t0 >= 1.0 and (rate := (e1 - e0) / (t1 - t0)) < 0.9 * self.speed:
            return f"playing {self.speed}/s, reaching {rate:.0f}/s"
        return f"playing {self.speed}/s"

    def change_speed(self, d: int) -> int:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else SPEEDS.index(DEFAULT_SPEED)
        self.speed = SPEEDS[min(max(i + d, 0), len(SPEEDS) - 1)]
        if self.playing:
            self._schedule()
        self.post_message(self.Changed())
        return self.speed

    # ------------------------------------------------------------ background work
    def run_to(self, target: int, stop_on_event: bool) -> None:
        """Step to ``target`` (or the next notable event) on a worker thread."""
        self.pause()
        self.busy, self._stop_requested = True, False
        self.post_message(self.Changed())
        self._run_worker(self.session, target, stop_on_event)

    def stop(self) -> None:
        """Ask a background run to stop (it stops between epochs) or pause play. Busy with no
        job left (its report never arrived: seen once after bursts of keys around the sweep
        screen, cause unknown), stop frees the keys instead of leaving them refused for good."""
        if self.busy:
            self._stop_requested = True
            if not any(w.node is self and not w.is_finished for w in self.app.workers):
                self.post_message(self.RunFinished("stopped"))  # its handler calls done()
        else:
            self.pause()

    @work(thread=True, exclusive=True, group="train")
    def _run_worker(self, session: Session, target: int, stop_on_event: bool) -> None:
        worker = get_current_worker()
        last = [time.monotonic()]

        def redraw_now_and_then() -> None:
            now = time.monotonic()
            if now - last[0] > 0.1:
                last[0] = now
                self.post_message(self.Stepped())

        def note(text: str) -> None:
            self.post_message(self.Note(text))

        reason = session.run_until(
            target,
            stop_on_event,
            should_stop=lambda: worker.is_cancelled or self._stop_requested,
            on_step=redraw_now_and_then,
            note=note,
        )
        self.post_message(self.RunFinished(reason, stop_on_event))  # its handler calls done(): busy until then

    def find_seed(self, case: int) -> None:
        """Search seeds from a random point for a start in ``case``, on a worker thread."""
        self.pause()
        self.busy, self._stop_requested = True, False
        self.post_message(self.Changed())
        self._seed_worker(case)

    @work(thread=True, exclusive=True, group="seed")
    def _seed_worker(self, case: int) -> None:
        seed = find_seed(case, start=random.randrange(2**31))
        self.post_message(self.SeedFound(case, seed))  # its handler calls done(): busy until then

    def load_log(self, path: str) -> None:
        """Read a printout log and recover its first run's float32 start, all on a worker thread;
        ``stop`` (x, escape) cancels it within milliseconds."""
        self.pause()
        self.busy, self._stop_requested = True, False
        self.post_message(self.Changed())
        self._log_worker(path)

    @work(thread=True, exclusive=True, group="log")
    def _log_worker(self, path: str) -> None:
        worker = get_current_worker()
        try:
            sc = load_printout(path, cancel=lambda: worker.is_cancelled or self._stop_requested)
        except Cancelled:
            self.post_message(self.LogLoaded(path, cancelled=True))
            return
        except ValueError as exc:  # PrintoutError, ScenarioError, the budget: one line
            self.post_message(self.LogLoaded(path, error=str(exc)))
            return
        self.post_message(self.LogLoaded(path, sc))  # its handler calls done(): busy until then

    def done(self) -> None:
        """A background job's result has been taken in (on the UI thread): not busy any more."""
        self.busy = False
