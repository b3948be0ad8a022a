"""The rows table (per XOR row) and the parameters table (value, gradient, change)."""

from __future__ import annotations

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from xor_tui.app.components import pixels as px
from xor_tui.app.components import style as S
from xor_tui.app.components.lines import LinesWidget
from xor_tui.app.components.panel import set_key
from xor_tui.core.view import Frame


class RowsTable(LinesWidget, can_focus=True):
    """A header and the four XOR rows. At a halt, the rows whose output broke BCELoss are
    marked, with enough digits to show the value is outside [0, 1]."""

    DEFAULT_CSS = "RowsTable { height: 5; }"
    frame: Frame | None = None  # shown (None until the first show)

    def show(self, frame: Frame) -> None:
        """Draw ``frame``'s rows (built anew only when what the table shows of it changed)."""
        self.frame = frame
        # what the table is drawn from; a step that changes none of it redraws nothing
        key = (frame.rows, tuple((u.pre, u.out, u.marks) for u in frame.units), frame.halt, frame.config.layer_names)
        if key != getattr(self, "_drawn", None):
            self._drawn = key
            self.rebuild()

    def build(self) -> Text:
        f = self.frame
        if f is None:
            return Text()
        pal = px.theme_colours(self)
        sign = {
            "+": px.style(pal["success"], bold=True),
            "-": px.style(pal["error"], bold=True),
            "0": px.style(pal["warning"], bold=True),
        }
        fg, bg = pal["foreground"], pal["background"]
        dim = px.style(fg.blend(bg, 0.5))
        names = f.config.layer_names
        hidden = [u for u in f.units if u.layer < len(names) - 1]
        out_unit = f.units[-1]
        # columns by priority: inputs and target, prediction, output pre-activation, then the
        # hidden pre-activations, then the hidden outputs; each shown whole or not at all
        width = self.size.width
        base = 9 + 10 + 2
        show_zout = base + 9 <= width
        n_z = max(min(len(hidden), (width - base - 9 * show_zout) // 9), 0)
        show_out = base + 9 * show_zout + 17 * len(hidden) <= width
        if show_out:
            n_z = len(hidden)
        t = Text(no_wrap=True, overflow="crop")
        head = " x1 x2  t"
        for u in hidden[:n_z]:
            head += f" {'z' + u.short:>8}"
            if show_out:
                head += f" {u.short:>7}"
        if show_zout:
            head += f" {'z_out':>8}"
        head += f" {'ŷ':>9}"
        t.append(head + "\n", px.style(fg, bold=True))
        # at a halt, the key to the red ŷ cells goes on the panel's border
        set_key(
            self,
            *(
                (r"[b $error]red ŷ[/]: outside \[0, 1], BCELoss refuses it", r"[b $error]red ŷ[/]: outside \[0, 1]")
                if f.halt
                else ("",)
            ),
        )
        for r, row in enumerate(f.rows):
            t.append(f"  {int(row.x1)}  {int(row.x2)}  {int(row.target)}")
            for u in hidden[:n_z]:
                z = u.pre[r]
                t.append(" " + S.fmt(z, 8, 3), sign.get(u.marks[r], sign["-"]))
                if show_out:
                    a = u.out[r]
                    t.append(" " + S.fmt(a, 7, 3), px.style(fg) if a != 0 else dim)
            if show_zout:
                t.append(" " + S.fmt(row.output_pre, 8, 3), sign.get(out_unit.marks[r], sign["-"]))
            if row.offending:
                t.append(" " + px.outside_unit(row.output_out).rjust(9), px.style(fg, pal["error"], True))
            else:
                # near 0.5, enough digits to show the side the ✓ or ✗ is about (+0.5000 on
                # both sides of it read as a contradiction)
                near = row.prediction != 0.5 and abs(row.prediction - 0.5) < 5e-5
                t.append(" " + S.fmt(row.prediction, 9, 6 if near else 4), px.style(fg))
            mark, colour = S.VERDICT[row.verdict]
            t.append(f" {mark}", px.style(pal[colour], bold=True))
            if r < 3:
                t.append("\n")
        return t


MARK, MARK_GAP = "▸ ", "  "  # before the cursor row's name (a monochrome terminal shows it too)


class ParamsTable(ScrollView, can_focus=True):
    """One row per parameter under a fixed header, with a real cursor: up/down, page keys,
    home/end, the wheel and the mouse move it (the view scrolls to keep it in sight); the
    cursor row is the selected parameter; a click on the cursor row edits it (enter is the
    screen's key: it edits the selected parameter).

    Drawn through the line API, one strip per visible row (a DataTable re-renders every
    cell through rich on each update, which cost more than the whole rest of a step)."""

    DEFAULT_CSS = "ParamsTable { height: 1fr; scrollbar-size-vertical: 1; overflow-x: hidden; }"
    ALLOW_MAXIMIZE = True
    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move(-100000)", "First", show=False),
        Binding("end", "move(100000)", "Last", show=False),
    ]  # enter is the screen's (edit the selected parameter): so the footer shows it and dims it while busy
    # fixed widths: a later, longer number never gets cut by a column sized for an earlier one
    COLUMNS = (("parameter", "name", 0), ("value", "value", 9), ("gradient", "grad", 11), ("change", "change", 10))

    class Highlighted(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    class Chosen(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.names: list[str] = []
        self.selected: str | None = None
        self.cursor_row = 0
        self._frame: Frame | None = None
        self._lines: list[Strip] | None = None
        self._key: tuple[int, str, bool, int] | None = None  # what the lines were built for

    # ------------------------------------------------------------ feeding
    def show(self, frame: Frame, selected: str | None = None) -> None:
        self._frame = frame
        self.names = [p.name for p in frame.params]
        if selected in self.names:
            self.selected = selected
            self.cursor_row = self.names.index(selected)
        self.cursor_row = min(self.cursor_row, max(len(self.names) - 1, 0))
        self.virtual_size = Size(0, len(self.names) + 1)  # no horizontal scrolling: columns fit or go
        self._lines = None
        self._keep_cursor_in_view()
        self.refresh()

    def selected_name(self) -> str | None:
        return self.names[self.cursor_row] if self.names else None

    # ------------------------------------------------------------ drawing
    def _columns(self, width: int) -> list[tuple[str, str, int]]:
        """The columns that fit whole (one space between): name, value, gradient, change, then
        the frozen note; the name column as wide as the longest name."""
        keys: list[tuple[str, str, int]] = []
        used = len(MARK_GAP)  # the cursor's mark before the names
        for label, key, w in self.COLUMNS:
            w = w or max([len(n) for n in self.names] + [9])
            if keys and used + w + 1 > width:
                break
            keys.append((label, key, w))
            used += w + 1
        if len(keys) == len(self.COLUMNS) and used + 6 <= width:
            keys.append(("", "note", 6))
        return keys

    def _build(self, f: Frame) -> list[Strip]:
        """The header and every row of ``f``, as strips of the widget's width (cursor row highlighted)."""
        width = self.scrollable_content_region.width
        pal = px.theme_colours(self)
        fg, bg = pal["foreground"], pal["background"]
        dim = px.style(fg.blend(bg, 0.5))
        plain, bold = px.style(fg), px.style(fg, bold=True)
        cursor_bg = pal["primary"] if self.has_focus else pal["primary"].blend(bg, 0.5)
        cols = self._columns(width)
        lines = []
        head = []
        for label, key, w in cols:
            if key == "name":
                head.append(Segment(MARK_GAP, px.style(fg)))  # the cursor's mark goes here
            head.append(Segment((label.ljust(w) if key in ("name", "note") else label.rjust(w)) + " ", bold))
        lines.append(Strip(head).adjust_cell_length(width))
        # each column in one notation (fixed, or scientific for all when one value needs it)
        values = S.column([p.value for p in f.params], 9, 4)
        grads = S.column([p.grad for p in f.params], 11, 6)
        changes = S.column([p.change or 0.0 for p in f.params], 10, 5)
        for i, p in enumerate(f.params):
            cells = {
                "name": (p.name, dim if p.frozen else plain),
                "value": (values[i], px.style(pal["primary"] if p.value >= 0 else pal["warning"], bold=True)),
                "grad": (grads[i], dim if p.frozen else bold),
                "change": (changes[i], plain if p.change else dim),
                "note": ("frozen" if p.frozen else "", px.style(pal["warning"])),
            }
            segs = []
            for _, key, w in cols:
                if key == "name":  # the cursor row is marked in text too, not only by its colour
                    mine = i == self.cursor_row
                    segs.append(Segment(MARK if mine else MARK_GAP, px.style(fg, cursor_bg, True) if mine else plain))
                text, st = cells[key]
                text = text.ljust(w) if key in ("name", "note") else text.rjust(w)
                if i == self.cursor_row:
                    st = st + px.style(fg, cursor_bg, True)
                segs.append(Segment(text + " ", st))
            strip = Strip(segs).adjust_cell_length(width)
            if i == self.cursor_row:
                strip = strip.apply_style(px.style(None, cursor_bg))
            lines.append(strip)
        return lines

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        key = (width, self.app.theme, self.has_focus, self.cursor_row)
        if self._lines is None or self._key != key:
            self._lines = self._build(self._frame) if self._frame is not None else []
            self._key = key
        if y == 0:
            return self._lines[0] if self._lines else Strip.blank(width)
        i = int(self.scroll_offset.y) + y
        return self._lines[i] if 0 < i < len(self._lines) else Strip.blank(width)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        if self._frame is not None:
            self.show(self._frame, self.selected)

    # ------------------------------------------------------------ the cursor
    def _keep_cursor_in_view(self) -> None:
        rows_shown = max(self.scrollable_content_region.height - 1, 1)
        top = int(self.scroll_offset.y)
        if self.cursor_row < top:
            top = self.cursor_row
        elif self.cursor_row >= top + rows_shown:
            top = self.cursor_row - rows_shown + 1
        self.scroll_to(y=top, animate=False, immediate=True)

    def _move_to(self, row: int) -> None:
        if not self.names:
            return
        row = min(max(row, 0), len(self.names) - 1)
        changed = row != self.cursor_row
        self.cursor_row = row
        self._keep_cursor_in_view()
        self.refresh()
        name = self.names[row]
        if changed and name != self.selected:
            self.selected = name
            self.post_message(self.Highlighted(name))

    def action_move(self, d: int) -> None:
        self._move_to(self.cursor_row + d)

    def action_page(self, d: int) -> None:
        self._move_to(self.cursor_row + d * max(self.scrollable_content_region.height - 1, 1))

    def on_click(self, event) -> None:
        if event.y < 1:
            return
        row = int(self.scroll_offset.y) + event.y - 1
        if 0 <= row < len(self.names):
            if row == self.cursor_row:
                self.post_message(self.Chosen(self.names[row]))
            else:
                self._move_to(row)
