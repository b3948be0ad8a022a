"""The main screen's target mode, nudging and lessons, kept apart from main.py (a mixin of
MainScreen): what the keys ``t`` ``T`` ``shift/alt+arrows`` ``H`` ``N`` ``P`` ``L`` and the wheel
over the diagram do, and the side panel (target or lesson) that takes the place of "what is
happening" while one is shown.

Everything is asked of the Session (``rule_report``, ``target``, ``apply_edits``, ``nudge``,
the lesson's tasks): the rules live in the core. The solver takes 20-150 ms, so the rule
report and the search run on a worker thread, one at a time: changes made meanwhile (a burst
of nudges) are worked out once the running job ends, for the state as it then is.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from textual import work
from textual.message import Message

from xor_tui.app.components.diagram import NetworkDiagram
from xor_tui.app.components.lesson import LessonPanel
from xor_tui.app.components.panel import Panel, set_key
from xor_tui.app.components.target import TargetPanel
from xor_tui.app.screens.dialogs import PromptScreen
from xor_tui.core.session import NUDGES, Session, Snapshot, SpecError
from xor_tui.core.view import Frame, RuleStatus, TargetResult

if TYPE_CHECKING:  # what the mixin uses of MainScreen, for type checkers
    from textual.screen import Screen as _Base

    from xor_tui.app.player import Player
else:
    _Base = object

MAX_EDITS = 3  # what target mode's solver may use (from seed 0 every case takes at most 3)


class TargetReady(Message):
    """A target job's answer for the state ``version`` of ``session``: the rule report
    (``kind`` "rules": ``rules``) or the solver's (``kind`` "solve": ``result``), or an error."""

    def __init__(
        self,
        session: Session,
        version: int,
        case: int,
        kind: str,
        rules: list[RuleStatus] | None = None,
        result: TargetResult | None = None,
        error: str = "",
    ) -> None:
        self.session, self.version, self.case, self.kind = session, version, case, kind
        self.rules, self.result, self.error = rules, result, error
        super().__init__()


class ModesMixin(_Base):
    """Target mode, nudging and lessons for MainScreen (see the module's docstring)."""

    if TYPE_CHECKING:  # MainScreen's own
        player: Player
        frame: Frame | None  # None until the screen is first drawn (on mount)
        message: str
        selected: str
        last_case_asked: str

        @property
        def session(self) -> Session: ...

        def say(self, message: str, error: bool = False) -> None: ...

        def refresh_view(self) -> None: ...

        def refused(self, action: str) -> None: ...

    target_case: int | None = None  # target mode is on for this case
    show_lesson = True  # a lesson's panel is shown (L hides it: "what is happening" again)
    hint_shown = False
    _rules: tuple | None = None  # (session, version, case, rules)
    _result: tuple | None = None  # (session, version, case, result)
    _jobs: dict = {}  # kind ("rules" or "solve") -> the (session, version, case) its running job is for
    _solve_for: tuple | None = None  # the state the solver's timer waits on
    _solve_timer = None
    _moved_at = 0.0  # when the state the solver waits on was first seen
    _apply_pending = False  # T was pressed before the answer for this state was in

    # ------------------------------------------------------------ the side panel
    def side_box(self) -> Panel:
        """The panel that takes the place of "what is happening" in target mode or a lesson."""
        box = Panel(TargetPanel(id="target"), LessonPanel(id="lesson"), id="side-box")
        box.border_title = "target"
        return box

    def before_draw(self) -> None:
        """Called by refresh_view before anything is drawn: a lesson's task checked on the
        state as it now is (it may pass and say so), and target mode's answer asked for."""
        s: Session = self.session
        if s.lesson is not None:
            res, fresh = s.check_task()
            if fresh and res is not None:
                i, n = s.task_index, len(s.lesson.tasks)
                after = (
                    f"N: on to task {i + 2} of {n}, {s.lesson.tasks[i + 1].title}."
                    if i + 1 < n
                    else "N: finish the lesson."
                )
                self.message = f"✓ Task {i + 1} done. {after}"
        if self.target_case is not None and s.target_unsupported() is None:
            self._ask_target()

    def draw_side(self) -> None:
        """Show the target panel, the lesson panel or neither (then "what is happening")."""
        s: Session = self.session
        mode = "target" if self.target_case is not None else ("lesson" if s.lesson and self.show_lesson else "")
        self.set_class(bool(mode), "side")
        box = self.query_one("#side-box", Panel)
        target, lesson = self.query_one(TargetPanel), self.query_one(LessonPanel)
        target.display, lesson.display = mode == "target", mode == "lesson"
        case = self.target_case
        view = s.lesson_view() if mode == "lesson" else None
        if case is not None:
            assert self.frame is not None  # refresh_view draws the frame before the side panel
            box.border_title = f"target: case {case} · now {self.frame.case_text}"
            # the rules of the newest state worked out (this one's once they are in)
            rules = self._rules[3] if self._rules and self._rules[0] is s and self._rules[2] == case else None
            result = self._result[3] if self._result and self._result[:3] == (s, s.version, case) else None
            target.show(case, rules, result, self.message, s.target_unsupported(), self.selected)
            set_key(target, *target.KEYS)
        elif view is not None:
            at = f"task {min(view.index + 1, view.count)} of {view.count}" if view.count else "narrative"
            box.border_title = f"lesson: {view.name} · {at}"
            lesson.show(view, self.message, self.hint_shown)
            set_key(lesson, *lesson.KEYS)

    # ------------------------------------------------------------ target mode
    def action_target_mode(self) -> None:
        """``t``: ask for a case and show its rules; ``t`` again leaves target mode."""
        if self.target_case is not None:
            self.leave_target()
            return
        s: Session = self.session
        why = s.target_unsupported()

        def check(text: str) -> str | None:
            if text.strip() not in [str(k) for k in range(1, 9)]:
                return "enter a case number from 1 to 8"
            return None

        def done(text: str | None) -> None:
            if text is None:
                return
            self.last_case_asked = text.strip()
            self.target_case = int(text)
            self._apply_pending = False
            if why:
                self.say(f"Target mode for case {self.target_case}: the cases do not apply here ({why}).", error=True)
            else:
                self.say(f"Target mode: case {self.target_case}. T applies the fewest edits; t or escape leaves.")

        task = s.task
        asked = task.check.case if task is not None and isinstance(task.check.case, int) else None
        f = s.frame()
        default = str(asked or self.last_case_asked or f.case or f.nearest or 1)
        hint = "Its rules are listed live, with what moves each; T applies the fewest edits."
        self.app.push_screen(PromptScreen("Target case (1-8)", default, validate=check, hint=hint), done)

    def leave_target(self) -> None:
        """Leave target mode: the usual panel comes back."""
        case, self.target_case, self._apply_pending, self._solve_for = self.target_case, None, False, None
        self.say(f"Left target mode (case {case}).")

    def action_apply_target(self) -> None:
        """``T``: apply the solver's edits for the target case, as recorded edits."""
        self.player.pause()
        if self.target_case is None:
            self.say("No target case: t picks one (1-8), then T applies its edits.")
            return
        s: Session = self.session
        why = s.target_unsupported()
        if why:
            self.say(f"Case {self.target_case} cannot be targeted here: {why}.", error=True)
            return
        r = self._result
        if r is not None and r[:3] == (s, s.version, self.target_case):
            self._apply(r[3])
            return
        self._apply_pending = True
        self.say(f"Finding the fewest edits for case {self.target_case}…")  # its redraw asks the solver

    def _apply(self, result: TargetResult) -> None:
        self._apply_pending = False
        s: Session = self.session
        if result.status != "found":
            from xor_tui.app.components.target import plan_text

            self.say(plan_text(result), error=result.status != "already")
            return
        try:
            done = s.apply_edits(result.edits)
        except SpecError as exc:  # not expected: the solver's values are in range
            self.say(str(exc), error=True)
            return
        n = len(done)
        case = s.frame().case_text
        self.say(f"Applied {n} edit{'s' if n != 1 else ''} for case {result.case}: {'; '.join(done)}. "
                 f"Now {case}. b undoes them one by one; w saves them.")

    SOLVE_AFTER = 0.25  # seconds a state must stay put before the solver is asked about it

    def _ask_target(self) -> None:
        """Ask for what the panel lacks for the current state, one job of each kind at a
        time (a job's end asks again, for the state as it then is): the rule report at once
        (a few ms), the solver (20-150 ms) once the state has stayed put SOLVE_AFTER seconds,
        so a burst of nudges or play does not keep a core busy with answers nobody reads;
        at once when T is waiting for it."""
        s: Session = self.session
        want = (s, s.version, self.target_case)
        if (self._rules is None or self._rules[:3] != want) and self._jobs.get("rules") is None:
            self._start_job("rules", want)
        if self._result is not None and self._result[:3] == want:
            return
        idle = self._jobs.get("solve") is None
        if self._apply_pending:
            if idle:
                self._start_job("solve", want)
            return
        if self._solve_for == want:
            return  # already asked for, or waiting for the state to stay put
        before, now = self._solve_for, time.monotonic()
        same_mode = before is not None and before[0] is s and before[2] == want[2]
        moving = same_mode and now - self._moved_at < self.SOLVE_AFTER
        self._solve_for, self._moved_at = want, now
        if self._solve_timer is not None:
            self._solve_timer.stop()
            self._solve_timer = None
        if moving or not idle:
            self._solve_timer = self.set_timer(self.SOLVE_AFTER, self._solve_due)
        else:  # a state reached after a pause, or target mode just entered: at once
            self._start_job("solve", want)

    def _solve_due(self) -> None:
        self._solve_timer = None
        s: Session = self.session
        want = (s, s.version, self.target_case)
        have = self._result[:3] if self._result else None
        if self.target_case is not None and have != want and self._jobs.get("solve") is None:
            self._solve_for = want
            self._start_job("solve", want)

    def _start_job(self, kind: str, want: tuple) -> None:
        self._jobs = {**self._jobs, kind: want}
        s, _, case = want
        self._target_worker(kind, s, case, s.snapshot())

    @work(thread=True, group="target", exit_on_error=False)
    def _target_worker(self, kind: str, session: Session, case: int, snap: Snapshot) -> None:
        try:
            if kind == "rules":
                rules = session.rule_report(case, at=snap)
                self.post_message(TargetReady(session, snap.version, case, kind, rules=rules))
            else:
                result = session.target(case, MAX_EDITS, at=snap)
                self.post_message(TargetReady(session, snap.version, case, kind, result=result))
        except Exception as exc:  # noqa: BLE001 - said in one line, never a crash
            self.post_message(TargetReady(session, snap.version, case, kind, error=f"{type(exc).__name__}: {exc}"))

    def on_target_ready(self, msg: TargetReady) -> None:
        """A job's answer: kept for the state it is about, applied when T waits for it."""
        self._jobs = {k: v for k, v in self._jobs.items() if k != msg.kind}
        if msg.error:
            self.say(f"Target mode failed: {msg.error}", error=True)
            return
        if msg.rules is not None:
            self._rules = (msg.session, msg.version, msg.case, msg.rules)
        if msg.result is not None:
            self._result = (msg.session, msg.version, msg.case, msg.result)
        s: Session = self.session
        current = msg.session is s and msg.version == s.version and msg.case == self.target_case
        if msg.kind == "solve" and not current and self._solve_timer is None and self.target_case is not None:
            self._solve_timer = self.set_timer(self.SOLVE_AFTER, self._solve_due)  # the state moved meanwhile
        if msg.result is not None and current and self._apply_pending:
            self._apply(msg.result)  # redraws, and asks again for the new state
            return
        if self.is_mounted:  # the picture is as it was: only the side panel is redrawn
            self.before_draw()
            self.draw_side()

    # ------------------------------------------------------------ nudging
    def _nudge(self, step: float) -> None:
        self.player.pause()
        from xor_tui.app.components.tables import ParamsTable

        name = self.query_one(ParamsTable).selected_name() or self.selected
        self.selected = name
        try:
            value = self.session.nudge(name, step)
        except SpecError as exc:
            self.say(str(exc), error=True)
            return
        key = "shift" if abs(step) == NUDGES[0] else "alt"
        self.message = f"{name} {step:+g} → {value:.6g} ({key}+{'↑' if step > 0 else '↓'}; b undoes it)."
        # one redraw for a burst: it is queued behind the keys already waiting (a held key)
        if not self._redraw_queued:
            self._redraw_queued = True
            self.call_later(self._redraw_nudged)

    _redraw_queued = False

    def _redraw_nudged(self) -> None:
        """The one redraw of a burst of nudges."""
        self._redraw_queued = False
        self.refresh_view()

    def action_nudge_up(self) -> None:
        """``shift+↑``: the selected parameter up by the small step."""
        self._nudge(+NUDGES[0])

    def action_nudge_down(self) -> None:
        """``shift+↓``: down by the small step."""
        self._nudge(-NUDGES[0])

    def action_nudge_up_big(self) -> None:
        """``alt+↑``: up by the large step."""
        self._nudge(+NUDGES[1])

    def action_nudge_down_big(self) -> None:
        """``alt+↓``: down by the large step."""
        self._nudge(-NUDGES[1])

    def on_network_diagram_wheel_nudge(self, event: NetworkDiagram.WheelNudge) -> None:
        """The wheel over the selected parameter in the diagram: a small nudge."""
        if self.player.busy:
            self.refused("nudge_up")
            return
        if event.name == self.selected:
            self._nudge(NUDGES[0] * event.direction)

    # ------------------------------------------------------------ lessons
    def _lesson(self) -> bool:
        if self.session.lesson is None:
            self.say("No lesson is loaded: c lists the built-in scenarios (lesson-dying-relu is one).")
            return False
        return True

    def action_lesson_hint(self) -> None:
        """``H``: show or hide the current task's hint."""
        if self._lesson():
            self.hint_shown = not self.hint_shown
            self.show_lesson = True
            self.refresh_view()

    def action_lesson_next(self) -> None:
        """``N``: on to the next task (this one is skipped unless it is done)."""
        if not self._lesson():
            return
        self.player.pause()
        s: Session = self.session
        if s.task is None:
            self.say("The lesson is complete: P goes back to its last task.")
            return
        i = s.task_index
        left, said = s.next_task()
        self.hint_shown, self.show_lesson = False, True
        was = f"Task {i + 1} {left}."
        if s.task is None:
            self.say(f"{was} Lesson complete: {s.task_status.count('done')} of {len(s.task_status)} tasks done.")
        else:
            self.say(f"{was} Now task {i + 2}, {s.task.title}" + _begun(said))

    def action_lesson_prev(self) -> None:
        """``P``: back to the previous task, begun again."""
        if not self._lesson():
            return
        self.player.pause()
        s: Session = self.session
        if s.task_index == 0:
            self.say("This is the lesson's first task.")
            return
        said = s.previous_task()
        self.hint_shown, self.show_lesson = False, True
        title = s.task.title if s.task is not None else ""
        self.say(f"Back to task {s.task_index + 1}, {title}" + _begun(said))

    def action_lesson_panel(self) -> None:
        """``L``: the lesson's panel, or "what is happening" in its place."""
        if self._lesson():
            self.show_lesson = not self.show_lesson
            self.refresh_view()

    def restart_lesson_task(self) -> bool:
        """``r`` in a lesson: its current task begins again (the lesson's start, then its
        setup). False when there is no task to begin again (r restarts as usual)."""
        s: Session = self.session
        if s.lesson is None or s.task is None:
            return False
        self.player.pause()
        said = s.restart_task()
        self.say(f"Task {s.task_index + 1} begun again" + _begun(said, "b right after brings the run back"))
        return True


def _begun(said: list[str], tail: str = "b right after brings back the task before") -> str:
    """`` (back to the lesson's start, seed 0; b right after ...).``: what beginning a task did."""
    return " (" + "; ".join([*said, tail]) + ")." if said else "."
