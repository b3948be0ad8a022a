"""A monkey in front of the app: random keys (often in bursts faster than the UI answers),
clicks, resizes and dialog texts, plus, on purpose, Enter/Escape bursts inside every dialog
and resizes down to 1x1 with each dialog open. Full length (200+ actions) runs under the
``slow`` marker (CI); a short run always (MONKEY_ACTIONS and MONKEY_SEED set its length and
seed, to try more locally)."""

import asyncio
import os
import random
import string

import pytest
import torch
from textual import events
from textual.errors import NoWidget

from tests.apphelp import KEY_CHARS, burst, settle, status
from tests.conftest import COUNTS
from xor_tui.app import keymap
from xor_tui.app.main import MainScreen, XorApp
from xor_tui.app.screens.dialogs import Palette, PromptScreen
from xor_tui.core.studies.replay import replay

BOUND = [key for k in keymap.KEYS for key in k.keys if k.action != "app.quit"]
POOL = BOUND + [str(d) for d in range(10)] + ["home", "end", "tab", "enter", "escape", "y", "n", "ctrl+p"]
OPENERS = ["l", "g", "k", "w", "c", "a", "enter", "f", "question_mark", "ctrl+p", "v"]
SIZES = [(1, 1), (2, 40), (40, 2), (20, 8), (80, 24), (250, 80)]


def _random_text(rng: random.Random) -> str:
    choices = [
        "0.5",
        "-1e30",
        "nan",
        "inf",
        "1e-45",
        "0",
        "-0",
        "abc",
        "",
        "1" * 40,
        "3.4e38",
        "42",
        "case1",
        "/nonexistent/x.toml",
        "é∂",
        "1e6",
        "-1e6",
        "7",
    ]
    if rng.random() < 0.5:
        return rng.choice(choices)
    return "".join(rng.choice(string.printable[:94]) for _ in range(rng.randint(0, 12)))


def _key_for(ch: str) -> str:
    names = {
        ".": "full_stop",
        "-": "minus",
        "+": "plus",
        " ": "space",
        "/": "slash",
        "_": "underscore",
        ",": "comma",
        ":": "colon",
        ";": "semicolon",
        "!": "exclamation_mark",
        "?": "question_mark",
        "*": "asterisk",
        "#": "number_sign",
        "$": "dollar_sign",
        "%": "percent_sign",
        "&": "ampersand",
        "(": "left_parenthesis",
        ")": "right_parenthesis",
        "[": "left_square_bracket",
        "]": "right_square_bracket",
        "{": "left_curly_bracket",
        "}": "right_curly_bracket",
        "=": "equals_sign",
        "<": "less_than_sign",
        ">": "greater_than_sign",
        "@": "at",
        "^": "circumflex_accent",
        "'": "apostrophe",
        '"': "quotation_mark",
        "\\": "backslash",
        "|": "vertical_line",
        "`": "grave_accent",
        "~": "tilde",
    }
    return names.get(ch, ch)


async def _spaced_burst(pilot, keys: list[str], rng: random.Random) -> None:
    """Keys a few turns of the event loop apart: each lands while the previous one is still
    travelling through the app as messages (how Enter then ctrl+p once left a dialog stuck)."""
    await pilot.pause()
    for k in keys:
        pilot.app.post_message(events.Key(k, KEY_CHARS.get(k, k if len(k) == 1 else None)))
        for _ in range(rng.randint(0, 8)):
            await asyncio.sleep(0)


async def _dialogs_on_purpose(pilot, rng: random.Random) -> int:
    """Open every dialog; Enter/Escape bursts inside it; shrink to 1x1 and back with it open."""
    app, n = pilot.app, 0
    for opener in OPENERS:
        await pilot.press(opener)
        for size in rng.sample(SIZES, 2) + [(120, 36)]:
            await pilot.resize_terminal(*size)
            n += 1
        await burst(pilot, *rng.choices(["enter", "escape"], k=rng.randint(2, 5)))
        n += 1
        await settle(pilot)
        while not isinstance(app.screen, MainScreen):
            await pilot.press("escape")
        assert app.return_code is None, opener
    return n


async def _monkey(tmp_path, monkeypatch, actions: int, seed: int) -> None:
    monkeypatch.chdir(tmp_path)  # save dialogs and screenshots fed random text write only here
    rng = random.Random(seed)
    app = XorApp(seed=3)
    app.animation_level = "full"  # the dashes' timer ticks among the keys, dialogs and resizes
    # choosing Quit is not a failure: a click on the header's icon opens the palette a few turns
    # later, over whatever dialog is being typed into, and Enter there can pick Quit. The monkey
    # counts it and goes on; a crash still ends the app (return code 1) and fails the test.
    monkeypatch.setattr(app, "action_quit", lambda: COUNTS.update(["monkey: Quit chosen (ignored)"]))
    async with app.run_test(size=(120, 36)) as pilot:
        done = await _dialogs_on_purpose(pilot, rng)
        COUNTS["monkey: dialog bursts and resizes on purpose"] += done
        while done < actions:
            roll = rng.random()
            if isinstance(app.screen, Palette) and roll < 0.8:
                await pilot.press("escape")  # random letters + enter in the palette could pick Quit
            elif isinstance(app.screen, PromptScreen) and roll < 0.7:
                await pilot.press("end", "ctrl+u", *[_key_for(c) for c in _random_text(rng)])
                await pilot.press(rng.choice(["enter", "enter", "escape"]))
                COUNTS["monkey: dialog texts typed"] += 1
            elif roll < 0.3:
                await pilot.press(rng.choice(POOL))
                COUNTS["monkey: keys pressed"] += 1
                done += 1
            elif roll < 0.65:
                keys = rng.choices(POOL + ["enter", "escape"] * 4, k=rng.randint(2, 8))
                if "ctrl+p" in keys:  # the palette last: later keys would type into it (and could pick Quit)
                    keys = keys[: keys.index("ctrl+p") + 1]
                await burst(pilot, *keys)
                COUNTS["monkey: keys pressed in bursts"] += len(keys)
                done += len(keys)
            elif roll < 0.8:
                keys = rng.choices([k for k in POOL if k != "ctrl+p"] + ["enter", "escape"] * 4, k=rng.randint(2, 5))
                if rng.random() < 0.5:  # the palette last: later keys would type into it (and could pick Quit)
                    keys.append("ctrl+p")
                await _spaced_burst(pilot, keys, rng)
                COUNTS["monkey: keys pressed a few event-loop turns apart"] += len(keys)
                done += len(keys)
            elif roll < 0.92:
                w, h = app.size
                try:  # anywhere but the footer
                    await pilot.click(offset=(rng.randrange(max(w, 1)), rng.randrange(max(h - 1, 1))))
                    COUNTS["monkey: clicks"] += 1
                except NoWidget:  # Pilot's own check: the screen is not laid out at a new size yet
                    COUNTS["monkey: clicks Pilot refused (just after a resize)"] += 1
                done += 1
            else:
                await pilot.resize_terminal(rng.randint(1, 250), rng.randint(1, 80))
                COUNTS["monkey: resizes"] += 1
                done += 1
            if app.main.player.busy and rng.random() < 0.8:  # runs of 100,000 epochs would eat the CPU
                await pilot.press("x")
            assert app.return_code is None
        # escape closes every dialog, one at a time (two where a widget in it is maximised:
        # the first escape restores it, as Textual does everywhere)
        open_at_end = [type(sc).__name__ for sc in app.screen_stack[1:]]
        COUNTS["monkey: dialogs open at the end, closed by escape"] += len(open_at_end)
        for _ in range(2 * len(open_at_end) + 1):
            if isinstance(app.screen, MainScreen):
                break
            await pilot.press("escape")
            await pilot.pause()
        left = [type(sc).__name__ for sc in app.screen_stack[1:]]
        assert isinstance(app.screen, MainScreen), f"escape did not close {left} (open at the end: {open_at_end})"
        await pilot.press("x")
        await settle(pilot)
        await pilot.resize_terminal(120, 36)
        app.main.refresh_view()
        await pilot.pause()
        s = app.session
        recs = [s.run.records[k] for k in range(len(s.run.records))]
        assert [r.epoch for r in recs] == list(range(len(recs)))
        shown = status(app)
        assert f"epoch {s.epoch} " in shown
        loss = "—" if s.record.loss is None else f"{s.record.loss:.6g}"
        assert f"loss {loss}" in shown
        # the history is what replaying the session's own scenario gives, bit for bit
        rp = replay(s.to_scenario(), s.epoch)
        assert rp.final.epoch == s.epoch
        for (w, b), (w2, b2) in zip(rp.final.params, s.record.params):
            assert torch.equal(w, w2) and torch.equal(b, b2)
    COUNTS["monkey: keys, clicks and resizes in all"] += done


@pytest.mark.local
async def test_monkey_short(tmp_path, monkeypatch):
    actions = int(os.environ.get("MONKEY_ACTIONS", "150"))
    await _monkey(tmp_path, monkeypatch, actions, seed=int(os.environ.get("MONKEY_SEED", "20261126")))


@pytest.mark.slow
async def test_monkey_full(tmp_path, monkeypatch):
    await _monkey(tmp_path, monkeypatch, 200, seed=1126)
