"""The status line: epoch, loss, case, activations, loss function, learning rate, start."""

from __future__ import annotations

from rich.text import Text

from ...core.diagnosis import Diagnosis
from ...core.losses import LABELS
from ...core.run import Record
from .lines import LinesWidget


class StatusLine(LinesWidget):
    DEFAULT_CSS = "StatusLine { height: 1; background: $boost; }"

    def show(self, rec: Record, diag: Diagnosis, start: str, mode: str) -> None:
        cfg = rec.config
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" epoch {rec.epoch} ", "bold reverse")
        loss = "—" if rec.loss is None else f"{rec.loss:.6g}"
        t.append(f" loss {loss} ", "bold")
        if diag.case is not None:
            t.append(f" case {diag.case} ", "bold black on green3")
        elif diag.nearest is not None:
            t.append(f" no case (nearest {diag.nearest}) ", "bold black on yellow3")
        else:
            t.append(" no case ", "black on grey50")
        if rec.halted:
            t.append(" HALTED ", "bold white on red")
        acts = "/".join(a.label for a in cfg.activations)
        lr = f"{cfg.lr:g}" if cfg.layer_lr is None else "/".join(f"{v:g}" for v in cfg.layer_lr)
        t.append(f" {cfg.shape_text} {acts} │ {LABELS[cfg.loss]} │ lr {lr} │ start {start} ")
        if mode:
            t.append(f" {mode} ", "bold black on cyan")
        self.set_content(t)
