"""The rows table (per XOR row) and the parameters table (value, gradient, change)."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from ...core.view import Frame
from . import pixels as px
from . import style as S
from .lines import LinesWidget
from .panel import set_key


class RowsTable(LinesWidget, can_focus=True):
    """A header and the four XOR rows. At a halt, the rows whose output broke BCELoss are
    marked, with enough digits to show the value is outside [0, 1]."""

    DEFAULT_CSS = "RowsTable { height: 5; }"

    def show(self, frame: Frame) -> None:
        self.frame = frame
        self.set_content(None)

    def build(self) -> Text:
        f = getattr(self, "frame", None)
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
                t.append(" " + S.fmt(row.output_pre, 8, 3), sign.get(_mark(row.output_pre), sign["-"]))
            if row.offending:
                t.append(" " + px.outside_unit(row.output_out).rjust(9), px.style(fg, pal["error"], True))
            else:
                t.append(" " + S.fmt(row.prediction, 9, 4), px.style(fg))
            t.append(" ✓" if row.correct else " ✗", px.style(pal["success" if row.correct else "error"], bold=True))
            if r < 3:
                t.append("\n")
        return t


def _mark(v: float) -> str:
    return "+" if v > 0 else ("-" if v < 0 else ("0" if v == 0 else "?"))


class ParamsTable(DataTable, can_focus=True):
    """One row per parameter, with a real cursor (up/down, page keys, home/end, the mouse);
    the cursor row is the selected parameter and enter edits it."""

    DEFAULT_CSS = "ParamsTable { height: 1fr; }"

    class Highlighted(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    class Chosen(Message):
        def __init__(self, name: str) -> None:
            self.name = name
            super().__init__()

    def __init__(self, **kw) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.names: list[str] = []
        self.selected: str | None = None  # what the app last said is selected
        self._shape = None
        self._frame: Frame | None = None

    # fixed widths: a later, longer number never gets cut by a column sized for an earlier one
    COLUMNS = (("parameter", "name", 0), ("value", "value", 9), ("gradient", "grad", 11), ("change", "change", 10))

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._again(recolour=True))

    def on_resize(self, event) -> None:
        self._again()

    def _again(self, recolour: bool = False) -> None:
        if self._frame is not None:
            if recolour:
                self._shape = None  # rebuild every cell in the new colours
            self.show(self._frame, self.selected)

    def _columns(self, names: list[str]) -> list[tuple[str, str, int]]:
        """The columns that fit whole (each cell has a padding of 2): name, value, gradient,
        change, then the frozen note; the name column as wide as the longest name."""
        width = self.size.width - 2  # room for the vertical scrollbar
        keys, used = [], 0
        for label, key, w in self.COLUMNS:
            w = w or max(len(n) for n in names)
            if keys and used + w + 2 > width:
                break
            keys.append((label, key, w))
            used += w + 2
        if len(keys) == len(self.COLUMNS) and used + 8 <= width:
            keys.append(("", "note", 6))
        return keys

    def _cells(self, p, pal, cols):
        fg, bg = pal["foreground"], pal["background"]
        dim = px.style(fg.blend(bg, 0.5))
        value_st = px.style(pal["primary"] if p.value >= 0 else pal["warning"], bold=True)
        grad = "0" if p.grad == 0 else S.fmt(p.grad, 11, 6).strip()
        cells = dict(
            zip(
                ("name", "value", "grad", "change", "note"),
                (
                    Text(p.name, dim if p.frozen else px.style(fg)),
                    Text(S.fmt(p.value, 9, 4).strip(), value_st, justify="right"),
                    Text(grad, dim if p.frozen else px.style(fg, bold=True), justify="right"),
                    Text(
                        S.fmt(p.change, 10, 5).strip() if p.change else "0",
                        px.style(fg) if p.change else dim,
                        justify="right",
                    ),
                    Text("frozen" if p.frozen else "", px.style(pal["warning"])),
                ),
            )
        )
        return [cells[k] for k in cols]

    def show(self, frame: Frame, selected: str | None = None) -> None:
        pal = px.theme_colours(self)
        names = [p.name for p in frame.params]
        self._frame, self.selected = frame, selected
        columns = self._columns(names)
        cols = [k for _, k, _ in columns]
        if (names, columns) != self._shape:
            self._shape = (names, columns)
            self.clear(columns=True)
            for label, key, w in columns:
                self.add_column(Text(label, justify="left" if key in ("name", "note") else "right"), width=w, key=key)
            for p in frame.params:
                self.add_row(*self._cells(p, pal, cols), key=p.name)
            self.names = names
        else:
            for p in frame.params:
                for col, cell in zip(cols, self._cells(p, pal, cols)):
                    self.update_cell(p.name, col, cell)
        if selected in names and names.index(selected) != self.cursor_row:
            self.move_cursor(row=names.index(selected), animate=False)

    def selected_name(self) -> str | None:
        return self.names[self.cursor_row] if self.names and 0 <= self.cursor_row < len(self.names) else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        name = self.selected_name()
        if name is not None and name != self.selected:
            self.selected = name
            self.post_message(self.Highlighted(name))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter (or a click on the cursor row) edits the parameter."""
        event.stop()
        name = self.selected_name()
        if name is not None:
            self.post_message(self.Chosen(name))
