"""Every widget rendered from a Frame, in a one-panel app at the size the main screen gives it
(measured at 120x36 and 80x24), read back from the screen as a user sees it.

The Frames come from ``Session.frame()`` on built-in scenarios, or are made by hand with
``dataclasses.replace`` for states that are hard to reach (an output of 1.00002)."""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import replace

import pytest
from textual.app import App

from xor_tui.app.components import pixels as px
from xor_tui.app.components.diagram import NetworkDiagram, layout, sizes
from xor_tui.app.components.events import EventPanel
from xor_tui.app.components.input_space import InputSpace
from xor_tui.app.components.loss_plot import LossPlot, decade_bounds, decade_rows
from xor_tui.app.components.panel import boxed
from xor_tui.app.components.status import StatusLine
from xor_tui.app.components.tables import ParamsTable, RowsTable
from xor_tui.core.engine.run import RunHalted
from xor_tui.core.io.scenario import builtin, parse
from xor_tui.core.session import Session
from xor_tui.core.view import HaltInfo

# (width, height) of each widget inside its panel on the main screen
DIAGRAM = {"120x36": (78, 12), "80x24": (51, 8)}


class One(App):
    """One widget in a titled panel, sized like the main screen sizes it."""

    def __init__(self, widget, size: tuple[int, int], feed) -> None:
        super().__init__()
        self.widget, self.inner, self.feed = widget, size, feed
        self.animation_level = "none"

    def compose(self):
        w, h = self.inner
        box = boxed("box", "panel", self.widget)
        box.styles.width, box.styles.height = w + 2, h + 2
        yield box

    def on_mount(self) -> None:
        self.feed(self.widget)


def screen_lines(app: App) -> list[str]:
    """What the terminal shows, one string per row, rebuilt from Textual's own SVG export
    (each text run carries its row in its clip path and its column in its x position)."""
    svg = app.export_screenshot()
    runs = re.findall(
        r'<text[^>]*x="([\d.]+)" y="[\d.]+" textLength="([\d.]+)" clip-path="url\(#[\w-]*-line-(\d+)\)">(.*?)</text>',
        svg,
    )
    cell = next(float(tl) / len(html.unescape(t)) for _, tl, _, t in runs if t)
    rows: dict[int, dict[int, str]] = {}
    for x, _, line, text in runs:
        col = round(float(x) / cell)
        for i, ch in enumerate(html.unescape(text).replace("\xa0", " ")):
            rows.setdefault(int(line), {})[col + i] = ch
    out = []
    for r in range(max(rows) + 1):
        cells = rows.get(r, {})
        out.append("".join(cells.get(c, " ") for c in range(max(cells, default=-1) + 1)))
    return out


def frame_of(name: str, epochs: int = 0):
    s = Session.from_scenario(builtin(name))
    for _ in range(epochs):
        try:
            s.step()
        except RunHalted:
            break
    return s.frame()


NUMBER = re.compile(r"(?<![\d.e])[+-]?\d+\.\d+(?![\d.])")
STATES = [
    ("case1", 0),
    ("case4", 0),
    ("case6", 0),
    ("case7", 0),
    ("case8", 0),
    ("case7", 200),
    ("ex4-3", 0),
    ("ex4-8", 0),
]


@pytest.mark.parametrize("where", ["120x36", "80x24"])
async def test_every_weight_label_is_on_the_diagram_rounded_never_cut(where):
    frames = [frame_of(name, n) for name, n in STATES]
    diagram = NetworkDiagram()
    app = One(diagram, DIAGRAM[where], lambda d: d.show(frames[0]))
    async with app.run_test(size=(120, 40)) as pilot:
        for frame in frames:
            diagram.show(frame)
            await pilot.pause()
            text = "\n".join(screen_lines(app))
            shown = Counter(NUMBER.findall(text))
            wanted = Counter(px.fit_number(e.value, 5) for e in frame.edges)
            missing = wanted - shown
            assert not missing, f"{frame.name} epoch {frame.epoch} at {where}: labels missing {dict(missing)}"
            # nothing cut: every number on the diagram is a whole rounding of a value it shows
            values = [e.value for e in frame.edges] + [b.value for b in frame.biases]
            values += [e.grad for e in frame.edges if e.grad is not None] + [b.grad for b in frame.biases if b.grad]
            values += [r.prediction for r in frame.rows] + [r.output_out for r in frame.rows]
            for token in shown:
                assert any(abs(float(token) - v) <= 0.51 * 10 ** -len(token.split(".")[1]) for v in values), token


def test_fit_number_rounds_never_cuts():
    assert px.fit_number(0.456, 5) == "+0.46"
    assert px.fit_number(0.456, 4) == "+0.5"
    assert px.fit_number(-123.4, 5) == "-123"
    assert px.fit_number(0.0012, 5) == "+.001"  # not a misleading +0.00, and in -0.58's notation
    assert px.fit_number(-0.005, 5) == "-.005" and px.fit_number(0.00004, 5) == "+4e-5"
    assert px.fit_number(0.0, 5) == "0.00" and px.fit_number(0.0, 7, 4) == "0"
    assert px.outside_unit(1.0000200271606445) == "1.00002"
    assert px.outside_unit(-0.0004) == "-0.0004"


@pytest.mark.parametrize("shape", [(2, 2, 1), (2, 2, 2, 1), (2, 4, 1), (2, 4, 4, 1), (2, 1, 1)])
def test_diagram_boxes_never_overlap_or_leave_the_widget(shape):
    for w in range(20, 130, 7):
        for h in range(3, 40, 3):
            placed = layout(shape, w, h)
            if placed is None:
                continue
            cells = set()
            for col in placed[2]:
                for b in col:
                    assert b.x >= 0 and b.x + b.w <= w and b.y >= 0 and b.y + b.h <= h, (shape, w, h, b)
                    box = {(b.x + i, b.y + j) for i in range(b.w) for j in range(b.h)}
                    assert not box & cells, (shape, w, h, b)
                    cells |= box


async def test_a_dead_unit_is_a_flat_tile_and_the_halt_rows_show_enough_digits():
    sc = parse(
        """
        name = "just-above-one"
        [network]
        hidden = [2]
        [start.params]
        "hidden.weight" = [[0.0, 0.0], [0.0, 0.0]]
        "hidden.bias" = [-1.0, 0.5]
        "output.weight" = [[0.0, 0.0]]
        "output.bias" = [1.00002]
        """
    )
    frame = Session.from_scenario(sc).frame()
    assert frame.halt is not None
    rows = RowsTable()
    app = One(rows, (78, 5), lambda r: r.show(frame))
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert text.count("1.00002") == 4 and "outside [0, 1]" in text
    diagram = NetworkDiagram()
    app = One(diagram, DIAGRAM["120x36"], lambda d: d.show(frame))
    async with app.run_test(size=(100, 16)) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
        text = "\n".join(lines)
        assert "h[0] DEAD" in text and "ŷ=1.00002" in text


async def test_events_panel_scrolls_to_its_last_line():
    frame = frame_of("case7", 200)  # the run to the halt: many events and a long explanation
    panel = EventPanel()
    app = One(panel, (30, 3), lambda p: p.show(frame, "Training halted at epoch 98."))
    async with app.run_test(size=(40, 8)) as pilot:
        await pilot.pause()
        assert panel.max_scroll_y > 0  # more than fits
        first = "\n".join(screen_lines(app))
        panel.focus()
        await pilot.press("end")
        await pilot.pause()
        last = "\n".join(screen_lines(app))
        assert last != first
        # the last line of what the panel holds is on screen, whole
        tail = frame.events[-1].text.split()[-1] if frame.events else frame.explanation[-1].split()[-1]
        assert tail in last
        await pilot.press("home")
        await pilot.pause()
        assert "Training halted" in "\n".join(screen_lines(app))


async def test_every_parameter_row_is_reachable_with_the_cursor():
    frame = frame_of("ex4-3")  # 15 parameters in a panel of 3 rows
    table = ParamsTable()
    highlighted = []

    class Watch(One):
        def on_params_table_highlighted(self, event) -> None:
            highlighted.append(event.name)

    app = Watch(table, (46, 3), lambda t: t.show(frame, frame.params[0].name))
    async with app.run_test(size=(60, 8)) as pilot:
        table.focus()
        await pilot.pause()
        seen = set()
        for _ in range(len(frame.params)):
            seen |= {p.name for p in frame.params if any(p.name in line for line in screen_lines(app))}
            await pilot.press("down")
            await pilot.pause()
        assert seen == {p.name for p in frame.params}
        assert highlighted == [p.name for p in frame.params[1:]]


async def test_all_nine_parameters_are_visible_at_120x36():
    frame = frame_of("case1")
    table = ParamsTable()
    app = One(table, (70, 10), lambda t: t.show(frame, "output.bias[0]"))
    async with app.run_test(size=(80, 14)) as pilot:
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert all(p.name in text for p in frame.params)


@pytest.mark.parametrize("level, moves", [("none", False), ("full", True)])
async def test_animation_off_gives_identical_frames(level, moves, monkeypatch):
    from xor_tui.app.components import diagram as module

    monkeypatch.setattr(module, "ANIMATE_FOR", 60.0)  # keep moving however slow the machine is
    before, after = frame_of("case4", 0), frame_of("case4", 1)
    diagram = NetworkDiagram()
    app = One(diagram, DIAGRAM["120x36"], lambda d: d.show(before))
    async with app.run_test(size=(100, 16)) as pilot:
        app.animation_level = level
        await pilot.pause()
        diagram.show(after, None)  # a step: with animation the dashes run for a moment
        await pilot.pause()
        first = screen_lines(app)
        if moves:  # the dashes move: some later picture differs (however slow the machine)
            for _ in range(100):
                await pilot.pause(0.1)
                if screen_lines(app) != first:
                    break
            assert screen_lines(app) != first
        else:  # still: the same picture over several of the animation's ticks
            for _ in range(4):
                await pilot.pause(0.1)
                assert screen_lines(app) == first


async def test_input_space_has_axes_points_and_a_key():
    frame = frame_of("case3")
    space = InputSpace()
    app = One(space, (38, 10), lambda s: s.show(frame))
    async with app.run_test(size=(50, 14)) as pilot:
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        for word in ("x1", "x2", "━h[0]", "━h[1]", "ŷ>½", "ŷ<½", "0┬", "1┬", " 0┤", " 1┤"):
            assert word in text, word
        assert sum(text.count(m) for m in "✓✗") == 4


def test_loss_axis_spans_whole_decades_so_a_flat_run_looks_flat():
    import numpy as np

    assert decade_bounds(np.array([50.011, 50.0])) == (1, 2)
    assert decade_bounds(np.array([25.45, 2.79])) == (0, 2)


def test_loss_axis_labels_are_evenly_spaced_and_never_skip_a_decade_unsaid():
    assert decade_rows(-2, 0, 4) == (-2, 1, 1)  # 1, 0.1, 0.01 on rows 0, 1, 2 (not 0, 1, 3)
    assert decade_rows(0, 2, 10) == (0, 1, 4)  # 100, 10, 1 on rows 0, 4, 8
    assert decade_rows(-3, 2, 4) == (-4, 2, 1)  # five decades on four rows: every other one


async def test_loss_chart_over_many_decades_labels_every_row_evenly():
    import numpy as np

    frame = frame_of("case7")
    losses = tuple(float(v) for v in np.geomspace(25.0, 2e-4, 201))  # 25 down to 0.0002: 6 decades
    frame = replace(frame, losses=losses, epoch=200)
    app = One(LossPlot(), (38, 7), lambda p: p.show(frame))  # four chart rows
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
        labels = [(i, line.split("┤")[0].strip("│ ")) for i, line in enumerate(lines) if "┤" in line]
        assert [name for _, name in labels] == ["100", "1", "0.01", "1e-4"]  # every other decade, as labelled
        rows = [i for i, _ in labels]
        assert rows == list(range(rows[0], rows[0] + 4))  # one row apart: evenly spaced
        first = next(i for i, line in enumerate(lines) if any(0x2800 < ord(ch) <= 0x28FF for ch in line))
        assert first == rows[0]  # 25 is drawn on the row labelled 100 (it lies between 100 and 1)


async def test_loss_chart_marks_events_and_the_current_epoch_after_stepping_back():
    s = Session.from_scenario(builtin("case7"))
    s.run_until(200)
    for _ in range(30):
        s.back()
    frame = s.frame()
    plot = LossPlot()
    app = One(plot, (38, 7), lambda p: p.show(frame))
    async with app.run_test(size=(50, 12)) as pilot:
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert f"epoch {frame.epoch}: loss {frame.loss:.8g}" in text
        assert "●" in text and str(frame.epoch) in text.splitlines()[-2]
        assert "✕halt" in text  # the key on the panel's border


async def test_status_line_shows_decay_and_per_layer_rates():
    frame = frame_of("ex4-9")
    status = StatusLine()
    app = One(status, (118, 1), lambda w: w.show(frame, "playing 30/s"))
    async with app.run_test(size=(120, 4)) as pilot:
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "lr/layer " + frame.config.lr_text in text and "playing 30/s" in text
    frame = frame_of("ex4-7")
    app = One(StatusLine(), (118, 1), lambda w: w.show(frame))
    async with app.run_test(size=(120, 4)) as pilot:
        await pilot.pause()
        assert f"weight decay {frame.config.weight_decay:g}" in "\n".join(screen_lines(app))


async def test_a_new_theme_recolours_the_diagram():
    frame = frame_of("case4")
    diagram = NetworkDiagram()
    app = One(diagram, DIAGRAM["120x36"], lambda d: d.show(frame))
    async with app.run_test(size=(100, 16)) as pilot:
        await pilot.pause()
        before = app.export_screenshot()
        app.theme = "nord"
        await pilot.pause()
        after = app.export_screenshot()
        nord = app.theme_variables["primary"].lower()
        assert nord in after.lower() and nord not in before.lower()


def test_a_table_column_keeps_one_notation():
    from xor_tui.app.components.style import column

    # -0.00012 beside -2.980e-08 read as two kinds of number: one needs scientific, so all are
    assert column([-0.00012, -2.98e-08, 0.0, None], 10, 5) == ["-1.200e-04", "-2.980e-08", "0", "—"]
    assert column([0.5, -0.25, 0.0], 10, 5) == ["+0.50000", "-0.25000", "0"]
    # the boundary: 1e-5 still shows in five decimals, 9e-6 does not
    assert column([1e-5, 0.5], 10, 5) == ["+0.00001", "+0.50000"]
    assert column([9e-6, 0.5], 10, 5) == ["+9.000e-06", "+5.000e-01"]


def test_sizes_counts_units_per_column():
    assert sizes(frame_of("ex4-3")) == (2, 2, 2, 1)
    assert sizes(replace(frame_of("case1"), halt=HaltInfo(0, "m", "r", (0,), (1.5,)))) == (2, 2, 1)


async def test_a_maximised_panel_keeps_the_status_line_and_the_palette_has_one_maximise():
    from xor_tui.app.main import XorApp

    app = XorApp(scenario=builtin("case7"))
    app.animation_level = "none"
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("space", "z")  # the parameters table has the focus
        await pilot.pause()
        lines = screen_lines(app)
        assert app.main.maximized is not None
        assert lines[0].lstrip().startswith("epoch 1 ") and "case 7" in lines[0], lines[0]
        assert "parameters" in lines[1]
        await pilot.press("space")
        await pilot.pause()
        assert screen_lines(app)[0].lstrip().startswith("epoch 2 ")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert [t for t in titles if t.lower().startswith(("maximi", "minimi"))] == [
            "Maximise the focused panel, or restore it"
        ]
        assert sum("screen" in t.lower() and "save" in t.lower() for t in titles) == 1
        assert "Screenshot" not in titles


async def test_every_theme_draws_text_in_a_colour_other_than_its_background():
    """The ANSI themes leave foreground and background to the terminal ("ansi_default", parsed
    as black): the tiles' 0/1 labels and the input space's were black on black."""
    from textual.theme import BUILTIN_THEMES

    from xor_tui.app.main import MainScreen, XorApp

    app = XorApp()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = app.screen
        assert isinstance(screen, MainScreen)
        for name in BUILTIN_THEMES:
            app.theme = name
            await pilot.pause()
            pal = px.theme_colours(screen)
            assert pal["foreground"].rgb != pal["background"].rgb, name


async def test_a_prediction_a_hair_from_one_half_shows_which_side_it_is_on():
    """+0.5000 with ✓ on one row and ✗ on another read as a contradiction: a prediction within
    5e-5 of 0.5 (not 0.5 itself) gets six decimals."""
    sc = parse(
        """
        name = "a-hair-below-half"
        [network]
        hidden = [2]
        [start.params]
        "hidden.weight" = [[0.0, 0.0], [0.0, 0.0]]
        "hidden.bias" = [0.0, 0.0]
        "output.weight" = [[0.0, 0.0]]
        "output.bias" = [0.49999]
        """
    )
    frame = Session.from_scenario(sc).frame()
    rows = RowsTable()
    app = One(rows, (78, 5), lambda r: r.show(frame))
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        lines = screen_lines(app)
        marked = [line for line in lines if "+0.499990" in line]
        assert len(marked) == 4 and "+0.5000 " not in "\n".join(lines)
        assert [line.split("+0.499990")[1].split()[0] for line in marked] == ["✓", "✗", "✗", "✓"]
