"""A lesson's panel: the current task (what to do, its check as it stands, the hint when
asked for), then the teacher's narrative reached so far.

A scrolling panel, like "what is happening" (whose place it takes while a lesson is shown):
nothing is cut, lines wrap at the panel's width.
"""

from __future__ import annotations

from xor_tui.app.components import pixels as px
from xor_tui.app.components.panel import TextPanel
from xor_tui.core.view import LessonView

MARK = {"done": "✓", "skipped": "–", "todo": "·"}


def progress(view: LessonView) -> str:
    """``✓✓–·····`` : one mark per task, done, skipped or still to do."""
    return "".join(MARK.get(s, "·") for s in view.statuses)


class LessonPanel(TextPanel):
    """The lesson's current task and narrative; see the module's docstring."""

    KEYS = (
        "[b]H[/] hint · [b]N[/] next · [b]P[/] previous · [b]r[/] again · [b]t[/] target · [b]L[/] hide",
        "[b]H[/] hint · [b]N[/] next · [b]P[/] prev · [b]L[/] hide",
    )

    def show(self, view: LessonView, message: str = "", hint: bool = False) -> None:
        """Show where the lesson ``view`` stands, ``message`` first; ``hint``: the task's hint."""
        check = view.check
        if not self._changed((view, message, hint), (view, check.text if check else None, message, hint)):
            return
        pal = px.theme_colours(self)
        fg, bg = pal["foreground"], pal["background"]
        dim = px.style(fg.blend(bg, 0.4))
        t = self._begin(message)
        if view.count and not view.finished:
            t.append(f"Task {view.index + 1} of {view.count}: {view.title}", px.style(pal["accent"], bold=True))
            t.append(f"  {progress(view)}\n", dim)
            t.append(view.text + "\n")
            if view.status == "done" and check is not None and not check.ok:
                # solved once, undone since: say it fails now (a ✓ beside a failing check read as a lie)
                t.append("✗ no longer holds (it was done): ", px.style(pal["warning"], bold=True))
                t.append(check.text + "\n")
            elif view.status == "done":
                t.append("✓ done: ", px.style(pal["success"], bold=True))
                t.append((check.text if check else "") + ".\n")
            elif check is not None and check.ok:
                t.append("✓ holds now: ", px.style(pal["success"], bold=True))
                t.append(check.text + " (it held as the task began: change something)\n")
            elif check is not None:
                t.append("✗ not yet: ", px.style(pal["error"], bold=True))
                t.append(check.text + "\n")
            if hint:
                t.append("Hint: ", "bold")
                t.append((view.hint or "this task has none; t shows what moves each rule of a case") + "\n")
        elif view.count:
            t.append(f"Lesson complete: {view.done} of {view.count} tasks done", px.style(pal["success"], bold=True))
            t.append(f"  {progress(view)}\n", dim)
            t.append("P goes back to the last task; c picks another scenario.\n", dim)
        for step in view.narrative:
            head = step.title or (f"at epoch {step.epoch}" if step.epoch is not None else "")
            if step.title and step.epoch is not None:
                head = f"{step.title} (epoch {step.epoch})"
            if head:
                t.append(f"─ {head} ─\n", px.style(fg, bold=True))
            t.append(step.text + "\n", dim if view.count and not view.finished else px.style(fg))
        t.rstrip()
        self._update(t)
