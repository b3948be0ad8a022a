"""The status line: epoch, loss, case, halt, shape and activations, loss function, learning
rate(s), weight decay, start, and what the player is doing."""

from __future__ import annotations

from rich.text import Text

from xor_tui.app.components import pixels as px
from xor_tui.app.components.lines import LinesWidget
from xor_tui.core.view import Frame


class StatusLine(LinesWidget):
    """One line: the epoch, loss, case and halt, then the settings that fit, then the player's mode."""

    DEFAULT_CSS = "StatusLine { height: 1; background: $boost; }"
    frame: Frame | None = None  # shown (None until the first show)
    mode = ""

    @property
    def content(self) -> Text:
        return self.build()

    def show(self, frame: Frame, mode: str = "") -> None:
        """Draw ``frame``, and ``mode`` (what the player does) at the right end."""
        self.frame, self.mode = frame, mode
        self.rebuild()

    def build(self) -> Text:
        f = self.frame
        if f is None:
            return Text()
        pal = px.theme_colours(self)
        bg, fg = pal["background"], pal["foreground"]
        cfg = f.config
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" epoch {f.epoch} ", px.style(bg, fg, True))
        loss = "—" if f.loss is None or f.loss != f.loss else f"{f.loss:.6g}"
        t.append(f" loss {loss} ", px.style(fg, bold=True))
        if f.case is not None:
            t.append(f" case {f.case} ", px.style(bg, pal["success"], True))
        elif f.nearest is not None:
            t.append(f" no case (nearest {f.nearest}) ", px.style(bg, pal["warning"], True))
        else:
            t.append(f" case {f.case_text} ", px.style(bg, fg.blend(bg, 0.5)))
        if f.halt is not None:
            t.append(" HALTED ", px.style(fg, pal["error"], True))
        sep = px.style(fg.blend(bg, 0.5))
        # the settings, most important first; each is shown whole or not at all
        parts = [
            f"{cfg.shape} {'/'.join(cfg.activations)}",
            ("lr " if cfg.layer_lr is None else "lr/layer ") + cfg.lr_text,
        ]
        if cfg.weight_decay:
            parts.append(f"weight decay {cfg.weight_decay:g}")
        parts += [cfg.loss_label, f"start {cfg.start}"]
        mode = f" {self.mode} " if self.mode else ""
        room = self.size.width - t.cell_len - len(mode)
        shown: list[str] = []
        for p in parts:
            if sum(len(q) + 3 for q in shown) + len(p) + 3 <= room:
                shown.append(p)
        order = {p: i for i, p in enumerate(parts)}
        for p in sorted(shown, key=order.__getitem__):
            t.append(" │ ", sep)
            t.append(p)
        if mode:
            t.append(" " * max(room - sum(len(q) + 3 for q in shown), 1))
            t.append(mode, px.style(bg, pal["accent"], True))
        return t
