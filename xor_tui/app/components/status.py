"""The status line: epoch, loss, case, activations, loss function, learning rate, start."""

from __future__ import annotations

from rich.text import Text

from ...core.view import Frame
from .lines import LinesWidget


class StatusLine(LinesWidget):
    DEFAULT_CSS = "StatusLine { height: 1; background: $boost; }"

    def show(self, frame: Frame, mode: str) -> None:
        cfg = frame.config
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" epoch {frame.epoch} ", "bold reverse")
        loss = "—" if frame.loss is None else f"{frame.loss:.6g}"
        t.append(f" loss {loss} ", "bold")
        if frame.case is not None:
            t.append(f" case {frame.case} ", "bold black on green3")
        elif frame.nearest is not None:
            t.append(f" no case (nearest {frame.nearest}) ", "bold black on yellow3")
        else:
            t.append(" no case ", "black on grey50")
        if frame.halted:
            t.append(" HALTED ", "bold white on red")
        acts = "/".join(cfg.activations)
        t.append(f" {cfg.shape} {acts} │ {cfg.loss_label} │ lr {cfg.lr_text} │ start {cfg.start} ")
        if mode:
            t.append(f" {mode} ", "bold black on cyan")
        self.set_content(t)
