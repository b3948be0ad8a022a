"""Every dialog attacked on purpose, not at random: Enter twice, Enter then Escape, a resize
to 1x1 while it is open, and the race behind the choice dialog that once stayed on top
ignoring escape forever; and rapid resizes leave no old fragments on the screen.

The race: a dialog's Enter reaches it as a message (an option selected, an input submitted,
a button pressed) a few turns of the event loop after the key; ctrl+p, a priority key the
app handles at once, can push the palette over the dialog in between. Textual's
``Screen.dismiss`` pops whatever screen is on top, so the dialog popped the palette instead
of itself and then ignored escape (it counted itself dismissed)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import time

import pytest
from textual import events
from textual.geometry import Size
from textual.widgets import Button, Input, OptionList

from tests.apphelp import burst, screen_text, settle
from tests.conftest import COUNTS
from xor_tui.app.main import MainScreen, XorApp
from xor_tui.app.screens import sweep
from xor_tui.app.screens.dialogs import ChoiceScreen, ConfirmScreen, HelpScreen, Palette, PromptScreen
from xor_tui.app.screens.survey import SurveyScreen
from xor_tui.app.screens.sweep import SweepScreen
from xor_tui.core import session

SIZE = (120, 36)
SAVED = "seed-0-epoch0.toml"  # w's default name at the start: made to exist for the overwrite question

# name: (keys that open it, the screen they open)
DIALOGS = {
    "l": (("l",), PromptScreen),
    "g": (("g",), PromptScreen),
    "k": (("k",), PromptScreen),
    "w": (("w",), PromptScreen),
    "w, overwrite?": (("w", "enter"), ConfirmScreen),
    "c": (("c",), ChoiceScreen),
    "a": (("a",), ChoiceScreen),
    "a, then the activation": (("a", "enter"), ChoiceScreen),
    "enter": (("enter",), PromptScreen),
    "f": (("f",), PromptScreen),
    "palette": (("ctrl+p",), Palette),
    "help": (("question_mark",), HelpScreen),
    "v": (("v",), SurveyScreen),
    "V": (("V",), SweepScreen),
}
VALID = {"g": "5", "f": "case2"}  # prompts that open empty: a value their Enter accepts
ACCEPTING = [name for name, (_, kind) in DIALOGS.items() if kind in (PromptScreen, ChoiceScreen, ConfirmScreen)]


async def open_dialog(pilot, name: str) -> None:
    keys, kind = DIALOGS[name]
    for k in keys:
        await pilot.press(k)
        await pilot.pause()
    assert isinstance(pilot.app.screen, kind), (name, pilot.app.screen)


async def escape_to_main(pilot, what: str) -> None:
    """Escape closes the dialogs one by one, each escape exactly one, down to the main screen."""
    app = pilot.app
    for _ in range(6):
        if isinstance(app.screen, MainScreen):
            break
        top, depth = type(app.screen).__name__, len(app.screen_stack)
        await pilot.press("escape")
        await settle(pilot)
        assert len(app.screen_stack) == depth - 1, f"escape did not close {top} ({what})"
        COUNTS["dialog attacks: escapes that closed a dialog"] += 1
    assert isinstance(app.screen, MainScreen) and len(app.screen_stack) == 1, what
    assert app.return_code is None, what


async def still_usable(pilot, what: str) -> None:
    """The main screen answers keys: space steps one epoch, b steps back."""
    app = pilot.app
    epoch = app.session.epoch
    await pilot.press("space")
    await settle(pilot)
    assert app.session.epoch == epoch + 1, what
    await pilot.press("b")
    await settle(pilot)
    assert app.session.epoch == epoch and app.return_code is None, what


# ------------------------------------------------------------------ the race, by construction
def accept(screen) -> None:
    """Post what Enter posts in ``screen``, without letting the dialog handle it yet."""
    if isinstance(screen, ChoiceScreen):
        screen.query_one(OptionList).action_select()
    elif isinstance(screen, PromptScreen):
        box = screen.query_one(Input)
        box.post_message(Input.Submitted(box, box.value))
    else:
        screen.query_one("#no", Button).press()


@pytest.mark.parametrize("name", ACCEPTING)
async def test_a_dialog_covered_by_the_palette_before_its_enter_arrives_keeps_escape_working(
    name, tmp_path, monkeypatch
):
    """Enter, then ctrl+p before the dialog has taken the Enter in: the palette (asked for
    last) stays on top; escape closes it, then the dialog, then nothing is left over. Before
    the fix the dialog popped the palette and then ignored escape forever."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / SAVED).write_text("")
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_dialog(pilot, name)
        dialog = app.screen
        if name in VALID:
            dialog.query_one(Input).value = VALID[name]
        accept(dialog)  # the Enter's message is queued for the dialog...
        app.action_command_palette()  # ...and ctrl+p is handled first: the palette covers the dialog
        await settle(pilot)
        assert isinstance(app.screen, Palette), f"{name}: the palette was popped by the dialog under it"
        assert app.screen_stack[-2] is dialog
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is dialog, name
        await escape_to_main(pilot, name)
        await still_usable(pilot, name)
        assert app.session.name == "seed 0"  # the Enter that arrived under the palette changed nothing


@pytest.mark.parametrize("name", ["c", "a, then the activation", "l"])
async def test_enter_then_ctrl_p_at_every_small_gap_never_leaves_a_dialog_that_ignores_escape(
    name, tmp_path, monkeypatch
):
    """The same race through real keys: Enter, then ctrl+p after 3 to 6 turns of the event
    loop (the Enter travels from the focused widget up to the app and back as a message;
    with fewer turns ctrl+p comes first, with more the dialog has closed). On the old code,
    4 turns left the scenario list stuck and 5 crashed the app (the palette's search outlived
    the palette that the dialog had popped)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / SAVED).write_text("")
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        for gap in range(3, 7):
            await open_dialog(pilot, name)
            app.post_message(events.Key("enter", "\r"))
            for _ in range(gap):
                await asyncio.sleep(0)
            app.post_message(events.Key("ctrl+p", None))
            await settle(pilot)
            COUNTS["dialog attacks: enter then ctrl+p races"] += 1
            await escape_to_main(pilot, f"{name}, gap {gap}")
        await still_usable(pilot, name)


@pytest.mark.parametrize("name", ["c", "l", "v"])
async def test_the_palette_over_a_dialog_or_the_survey_runs_nothing_behind_it(name):
    """Over a dialog or the survey the palette offers Textual's own commands only: the main
    screen's actions (load a case, step, edit...) would act behind what is open."""
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await open_dialog(pilot, name)
        under = app.screen
        await pilot.press("ctrl+p", *"load", "space", *"case", "space", "7")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.name == "seed 0" and app.session.epoch == 0, name
        await escape_to_main(pilot, name)  # the palette, then what it was opened over
        assert under.is_attached is False
        await pilot.press("ctrl+p", *"load", "space", *"case", "space", "7")  # over the main screen it does
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.name == "case7"


# ------------------------------------------------------------------ every dialog, on purpose
def _small_sweep(config, lrs, scales, n, epochs, seed, *args, **kw):
    """The sweep screen's own sweep on 300 networks a cell instead of 10,000: the same code
    path, done in a moment, so waiting for it does not dominate the test."""
    return session.sweep(config, lrs, scales, min(n, 300), epochs, seed, *args, **kw)


@pytest.mark.parametrize("name", list(DIALOGS))
async def test_enter_twice_enter_then_escape_and_1x1_in_every_dialog(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # w saves here, i would too
    monkeypatch.setattr(sweep, "sweep", _small_sweep)
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        for second in ("enter", "escape"):
            (tmp_path / SAVED).write_text("")  # so w always asks before overwriting
            await open_dialog(pilot, name)
            await burst(pilot, "enter", second)  # faster than the dialog answers
            await settle(pilot)
            COUNTS["dialog attacks: enter twice / enter then escape"] += 1
            await escape_to_main(pilot, f"{name}: enter, {second}")
            await still_usable(pilot, f"{name}: enter, {second}")
        (tmp_path / SAVED).write_text("")
        await open_dialog(pilot, name)
        kind = type(app.screen)
        for size in [(1, 1), (2, 40), (1, 1), SIZE]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
            COUNTS["dialog attacks: resizes with a dialog open"] += 1
        assert isinstance(app.screen, kind) and app.return_code is None, name  # still open, nothing broke
        await escape_to_main(pilot, f"{name}: resized to 1x1")
        await still_usable(pilot, f"{name}: resized to 1x1")


@pytest.mark.parametrize("keys", [("ctrl+p", *"case"), ("c",), ("a", "enter")], ids=["palette listing", "c", "a"])
async def test_lists_a_few_columns_wide_never_crash(keys):
    """A list open (the palette showing matches, a choice dialog) while the terminal is a few
    columns wide: Textual's OptionList measured its options at width <= 0 (ValueError)."""
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*keys)
        await pilot.pause(0.3)  # the palette's matches are listed
        for size in [(1, 1), (2, 40), (4, 30), (6, 30), (10, 5), SIZE]:
            await pilot.resize_terminal(*size)
            await pilot.pause()
        assert app.return_code is None
        await escape_to_main(pilot, keys[0])


# ------------------------------------------------------------------ rapid resizes
BURST = [(1, 1), (2, 40), (200, 60), (40, 2), (80, 24), (1, 1), (250, 80), (20, 8), (2, 40), (120, 36)]
STATES = {"no dialog": ("7", "space"), "choice open": ("7", "space", "c"), "help open": ("7", "question_mark")}


async def _state_text(keys, bursts: tuple[bool, ...] = ()) -> list[str]:
    """The screen's text in the state ``keys`` lead to; then again after each burst of
    resizes (all sizes at once, or with ``True`` each size drawn before the next)."""
    app = XorApp()
    texts = []
    async with app.run_test(size=SIZE) as pilot:
        app.animation_level = "none"  # a still picture: the dashes would move between captures
        await pilot.press(*keys)
        await settle(pilot)
        texts.append(screen_text(app))
        for spaced in bursts:
            for w, h in BURST:  # what a terminal sends while its window is dragged
                app._driver._size = Size(w, h)
                app.post_message(events.Resize(Size(w, h), Size(w, h)))
                if spaced:
                    await pilot.pause()
            COUNTS["resize bursts"] += 1
            await settle(pilot)
            assert app.size == Size(*SIZE) and app.return_code is None
            texts.append(screen_text(app))
    return texts


@pytest.mark.parametrize("state", list(STATES))
async def test_after_a_burst_of_resizes_the_screen_is_what_a_fresh_app_shows(state):
    keys = STATES[state]
    (fresh,) = await _state_text(keys)
    _, at_once, spaced = await _state_text(keys, bursts=(False, True))
    assert at_once == fresh
    assert spaced == fresh


def test_after_a_burst_of_resizes_in_a_real_terminal_no_fragment_is_left(tmp_path):
    """In tmux, what the terminal shows after resizes faster than the app can draw (down to
    1x1 and up to 250x80, ending at 120x36), with the scenario list open: exactly the text of
    a fresh app's full repaint in the same state."""
    from tests.servehelp import Tmux

    app = Tmux("dlg-resize", still=True)  # no dashes: the picture is still once drawn
    try:
        app.wait_screen(r"epoch 0\b")
        app.keys("7")
        app.wait_screen(r"case 7")
        app.keys("c")
        app.wait_screen(r"Load a built-in scenario")
        _settled(app)
        chain = []
        for w, h in BURST:
            chain += ["resize-window", "-t", app.name, "-x", str(w), "-y", str(h), ";"]
        subprocess.run([*app.tmux, *chain[:-1]], check=True)  # one tmux command: a real burst
        shown = _settled(app, size=BURST[-1])
    finally:
        app.close()
    (expected,) = asyncio.run(_state_text(("7", "c")))
    got = [line.rstrip() for line in shown.splitlines()]
    want = [line.rstrip() for line in expected.splitlines()]
    assert got == want, "\n".join(f"{a!r}\n{b!r}" for a, b in zip(got, want) if a != b)


def _settled(app, timeout: float = 10.0, size: tuple[int, int] | None = None) -> str:
    """The tmux screen once it shows the dialog (at ``size``, when given: the window's last
    size) and has stopped changing for half a second."""
    last, since, deadline = None, time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = app.screen()
        if now != last:
            last, since = now, time.monotonic()
        elif (
            time.monotonic() - since > 0.5
            and re.search(r"Load a built-in scenario", now)
            and (size is None or app.size() == size)
        ):
            break
        time.sleep(0.1)
    return last or ""


@pytest.mark.parametrize("keys", [("l",), ("c",), ("question_mark",), ("ctrl+p",), ("w",)], ids="lc?pw")
async def test_a_dialog_shows_the_screen_under_it_dimmed_exactly_as_textual_draws_it(monkeypatch, keys):
    """Dialogs keep one dimmed copy of the screen under them instead of redrawing it on every
    refresh: what they show must be Textual's own dimmed screen, when opened, after typing, and
    when opened again a step later. (After a resize with a dialog open, what either shows
    depends on when the screen under it is laid out again; the resize tests above compare the
    settled screen with a fresh app's.)"""
    from xor_tui.app.screens import dialogs
    from xor_tui.core.io.scenario import builtin

    async def shots() -> list[str]:
        app = XorApp(scenario=builtin("case7"))
        out = []
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("space", "space", *keys)
            await pilot.pause()
            out.append(app.export_screenshot())
            await pilot.press("end", "7")  # typed into a prompt or the palette; moves a list
            await pilot.pause()
            out.append(app.export_screenshot())
            await pilot.press("escape", "space", *keys)  # the same dialog again, one epoch on
            await pilot.pause()
            out.append(app.export_screenshot())
        return out

    kept = await shots()
    monkeypatch.setattr(dialogs._Dimmed, "render", lambda self: super(dialogs._Dimmed, self).render())
    textuals = await shots()
    moments = ["opened", "typed into", "opened again a step later"]
    assert [a == b for a, b in zip(kept, textuals)] == [True] * 3, moments


@pytest.mark.parametrize(
    "keys, field",
    [
        (("t", "3"), "3"),  # the key right after the one that opens the dialog is the dialog's
        (("t", "backspace", "3"), "3"),  # backspace then 3, fast: the 3 stays (it was deleted)
        (("g", "4", "2"), "42"),
        (("l", "ctrl+u", "0", "1"), "01"),
    ],
)
async def test_keys_typed_right_after_a_dialog_opens_go_to_it_in_order(keys, field):
    from textual.widgets import Input

    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await burst(pilot, *keys)  # all queued before the dialog exists
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen) and app.screen.query_one(Input).value == field
        assert app.session.name == "seed 0"  # the 3 did not load case 3 underneath


async def test_t_3_enter_typed_at_once_enters_target_mode_for_case_3():
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await burst(pilot, "t", "3", "enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.main.target_case == 3


async def test_a_surveys_answer_after_its_screen_closed_or_while_it_closes_is_dropped(monkeypatch):
    """A survey's worker hands its answers to the main thread; one that arrives once the screen
    is closed, or while it closes (its widgets are removed before it), shows nothing and must
    not end the app (the full monkey saw NoMatches('#result') end it)."""
    import threading

    from xor_tui.app.screens import survey as survey_screen
    from xor_tui.app.screens.dialogs import while_open

    real, release = survey_screen.survey, threading.Event()

    def held(*a, **k):
        release.wait(30)
        return real(*a, **k)

    monkeypatch.setattr(survey_screen, "survey", held)
    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, SurveyScreen)
        await pilot.press("ctrl+u", "5", "0", "enter")  # held in its worker
        await pilot.pause()
        screen.query_one("#result").remove()  # as while the screen closes: its widgets go first
        await pilot.pause()
        while_open(screen, screen._say, ["late"])
        await pilot.press("escape")  # closed while the survey runs
        release.set()
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert isinstance(app.screen, MainScreen) and app.return_code is None
        await pilot.press("space")
        assert app.session.epoch == 1


async def test_a_key_still_queued_when_the_screens_are_gone_is_dropped():
    """A burst's last key can be handled after the app has taken its screens down (shutting
    down): it is dropped, not a ScreenStackError (seen once after `t 3 enter` in a burst)."""
    from textual import events

    app = XorApp()
    async with app.run_test(size=SIZE) as pilot:
        await burst(pilot, "t", "3", "enter")
        await settle(pilot)
    assert not app.screen_stack
    for key in (events.Key("t", "t"), events.Key("enter", "\r")):
        await app._dispatch_message(key)  # as the message pump hands it over: no screen to give it to
        assert key._stop_propagation and app.return_code is None  # dropped, nothing raised (run_test sets no code)
    key = events.Key("3", "3")
    await app._on_key(key)  # our handler alone (the event reached it): Textual's own is kept from running
    assert key._no_default_action
