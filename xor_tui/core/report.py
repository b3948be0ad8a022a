"""Replays as data: JSON records and CSV rows (the student's printout is in printout.py)."""

from __future__ import annotations

import csv
import io
import math

import torch

from . import engine
from .diagnosis import Diagnosis, Event
from .replay import Replay
from .run import Record


def _num(x: float | None):
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None if x is None or math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def _nested(t: torch.Tensor):
    return [[_num(v) for v in row] for row in t.tolist()] if t.dim() == 2 else [_num(v) for v in t.tolist()]


def record_json(rec: Record, diag: Diagnosis, evs: list[Event]) -> dict:
    c = rec.config
    params = engine.state_dict(rec.params, c)
    grads = engine.state_dict(rec.grads, c) if rec.grads is not None else None
    d = {
        "epoch": rec.epoch,
        "loss": _num(rec.loss),
        "case": diag.case,
        "params": {k: _nested(v) for k, v in params.items()},
        "grads": None if grads is None else {k: _nested(v) for k, v in grads.items()},
    }
    for li, name in enumerate(c.layer_names):
        d[f"{name}_pre"] = _nested(rec.pre[li])
        d[f"{name}_out"] = _nested(rec.out[li])
    d["dead"] = list(diag.dead)
    d["events"] = [{"kind": e.kind, "subject": e.subject, "text": e.text} for e in evs]
    return d


def replay_json(rp: Replay) -> dict:
    tr = rp.trace
    halt = rp.final.halt
    return {
        "scenario": rp.scenario.name,
        "halt": None
        if halt is None
        else {"epoch": halt.epoch, "message": halt.message, "rows": list(halt.rows), "reason": halt.reason},
        "epochs": [record_json(r, tr.diagnoses[r.epoch], tr.events[r.epoch]) for r in rp.records],
        "expectations": [
            {"epoch": v.expectation.epoch, "ok": v.ok, "failures": v.failures, "skipped": v.skipped or None}
            for v in rp.verdicts
        ],
    }


def csv_text(rp: Replay) -> str:
    recs = rp.records
    c = rp.scenario.config
    refs = engine.all_params(c)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["epoch", "loss", "case", "halted", "dead"]
    for li, name in enumerate(c.layer_names):
        for j in range(c.sizes[li + 1]):
            head += [f"{name}[{j}].pre.r{r}" for r in range(4)]
    head += [r.name(c) for r in refs] + [f"grad:{r.name(c)}" for r in refs] + ["events"]
    w.writerow(head)
    for rec in recs:
        d = rp.trace.diagnoses[rec.epoch]
        row = [rec.epoch, "" if rec.loss is None else repr(rec.loss), d.case or "", int(rec.halted), " ".join(d.dead)]
        for li in range(len(c.layer_names)):
            for j in range(rec.pre[li].shape[1]):
                row += [repr(float(rec.pre[li][r, j])) for r in range(4)]
        row += [repr(rec.value(r)) for r in refs]
        row += ["" if rec.grads is None else repr(rec.grad(r)) for r in refs]
        row.append("; ".join(e.text for e in rp.trace.events[rec.epoch]))
        w.writerow(row)
    return buf.getvalue()
