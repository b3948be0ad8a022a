"""A monkey in front of the app: 1,000+ random keys, clicks, resizes and dialog texts."""

import random
import string

import torch

from tests.apphelp import status
from tests.conftest import COUNTS
from xor_tui.app.main import KEYS, XorApp
from xor_tui.app.screens.dialogs import PromptScreen
from xor_tui.core.replay import replay

ACTIONS = int(__import__("os").environ.get("MONKEY_ACTIONS", "1000"))  # keys + clicks + resizes
BOUND = [k for k, action, _, _ in KEYS if action != "quit"]
POOL = (
    BOUND
    + [str(d) for d in range(10)]
    + [
        "right",
        "left",
        "up",
        "down",
        "home",
        "end",
        "tab",
        "enter",
        "escape",
        "space",
        "x",
        "escape",
        "y",
        "n",
        "ctrl+p",
    ]
)


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


async def test_monkey(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a save dialog fed random text writes only here
    rng = random.Random(20261126)
    app = XorApp(seed=3)
    async with app.run_test(size=(120, 36)) as pilot:
        done = 0
        while done < ACTIONS:
            roll = rng.random()
            if isinstance(app.screen, PromptScreen) and roll < 0.7:
                await pilot.press("end", "ctrl+u", *[_key_for(c) for c in _random_text(rng)])
                await pilot.press(rng.choice(["enter", "enter", "escape"]))
                COUNTS["monkey: dialog texts typed"] += 1
            elif roll < 0.75:
                await pilot.press(rng.choice(POOL))
                COUNTS["monkey: keys pressed"] += 1
                done += 1
            elif roll < 0.92:
                w, h = app.size
                await pilot.click(offset=(rng.randrange(max(w, 1)), rng.randrange(max(h, 1))))
                COUNTS["monkey: clicks"] += 1
                done += 1
            else:
                await pilot.resize_terminal(rng.randint(20, 250), rng.randint(8, 80))
                COUNTS["monkey: resizes"] += 1
                done += 1
            if app.busy and rng.random() < 0.3:
                await pilot.press("x")
        # let any background run finish, close dialogs and check the invariants
        app._stop = True
        for _ in range(400):
            if not app.busy:
                break
            await pilot.pause(0.05)
        while len(app.screen_stack) > 1:
            app.pop_screen()
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        app.refresh_view()
        await pilot.pause()
        s = app.session
        recs = s.run.records
        assert [r.epoch for r in recs] == list(range(len(recs)))
        assert len(s.trace.diagnoses) == len(recs) == len(s.trace.events)
        shown = status(app)
        assert f"epoch {s.epoch} " in shown
        loss = "—" if s.record.loss is None else f"{s.record.loss:.6g}"
        assert f"loss {loss}" in shown
        # the history is what replaying the session's own scenario gives, bit for bit
        rp = replay(s.to_scenario())
        assert rp.final.epoch == s.epoch
        for (w, b), (w2, b2) in zip(rp.final.params, s.record.params):
            assert torch.equal(w, w2) and torch.equal(b, b2)
    COUNTS["monkey: keys, clicks and resizes in all"] += done
