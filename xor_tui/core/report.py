"""Replays as data: JSON records, CSV rows, and the source's own printout."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from collections import OrderedDict
from collections.abc import Iterator

import torch
import torch.nn as nn

from . import engine
from .diagnosis import Diagnosis, Event
from .replay import Replay
from .run import Record


def _num(x: float | None, path: str, nonfinite: dict):
    """A JSON number; inf, -inf and NaN become null, noted in ``nonfinite`` under ``path``."""
    if x is not None and not math.isfinite(x):
        nonfinite[path] = str(x)
        return None
    return x


def _nested(t: torch.Tensor, path: str, nonfinite: dict):
    if t.dim() == 2:
        rows = t.tolist()
        return [[_num(v, f"{path}[{i}][{j}]", nonfinite) for j, v in enumerate(row)] for i, row in enumerate(rows)]
    return [_num(v, f"{path}[{i}]", nonfinite) for i, v in enumerate(t.tolist())]


def record_json(rec: Record, diag: Diagnosis, evs: list[Event]) -> dict:
    """One epoch as JSON. Numbers that are not finite are null, and ``nonfinite`` (present
    only then) maps each one's place, e.g. ``"loss"``, to what it was: "inf", "-inf", "nan"."""
    c = rec.config
    nf: dict[str, str] = {}
    params = engine.state_dict(rec.params, c)
    grads = engine.state_dict(rec.grads, c) if rec.grads is not None else None
    d = {
        "epoch": rec.epoch,
        "loss": _num(rec.loss, "loss", nf),
        "case": diag.case,
        "params": {k: _nested(v, f"params.{k}", nf) for k, v in params.items()},
        "grads": None if grads is None else {k: _nested(v, f"grads.{k}", nf) for k, v in grads.items()},
    }
    for li, name in enumerate(c.layer_names):
        d[f"{name}_pre"] = _nested(rec.pre[li], f"{name}_pre", nf)
        d[f"{name}_out"] = _nested(rec.out[li], f"{name}_out", nf)
    d["dead"] = list(diag.dead)
    d["events"] = [{"kind": e.kind, "subject": e.subject, "text": e.text} for e in evs]
    if nf:
        d["nonfinite"] = nf
    return d


def _halt_json(rp: Replay):
    halt = rp.final.halt
    if halt is None:
        return None
    return {"epoch": halt.epoch, "message": halt.message, "rows": list(halt.rows), "reason": halt.reason}


def _verdicts_json(rp: Replay) -> list:
    return [
        {"epoch": v.expectation.epoch, "ok": v.ok, "failures": v.failures, "skipped": v.skipped or None}
        for v in rp.verdicts
    ]


def replay_json(rp: Replay) -> dict:
    tr = rp.trace
    return {
        "scenario": rp.scenario.name,
        "halt": _halt_json(rp),
        "epochs": [record_json(r, tr.diagnoses[r.epoch], tr.events[r.epoch]) for r in rp.records],
        "expectations": _verdicts_json(rp),
    }


def write_replay_json(rp: Replay, out) -> None:
    """``replay_json`` written record by record (the same text as ``json.dumps``), so a long
    replay never holds every record in memory at once."""
    tr = rp.trace
    out.write('{"scenario": ' + json.dumps(rp.scenario.name) + ', "halt": ' + json.dumps(_halt_json(rp)))
    out.write(', "epochs": [')
    run, text = tr.run, ""
    for k in range(len(rp.records)):
        if text and run.is_repeat(k) and not tr.events[k - 1]:  # the epoch before again, bit for bit
            text = text.replace(f'{{"epoch": {k - 1}, ', f'{{"epoch": {k}, ', 1)
        else:
            text = json.dumps(record_json(rp.records[k], tr.diagnoses[k], tr.events[k]), allow_nan=False)
        out.write((", " if k else "") + text)
    out.write('], "expectations": ' + json.dumps(_verdicts_json(rp)) + "}\n")


def csv_chunks(rp: Replay) -> Iterator[str]:
    """The trace as CSV, a row at a time (a repeat of the epoch before reuses its numbers)."""
    recs = rp.records
    c = rp.scenario.config
    refs = engine.all_params(c)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def take() -> str:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    head = ["epoch", "loss", "case", "halted", "dead"]
    for li, name in enumerate(c.layer_names):
        for j in range(c.sizes[li + 1]):
            head += [f"{name}[{j}].pre.r{r}" for r in range(4)]
    head += [r.name(c) for r in refs] + [f"grad:{r.name(c)}" for r in refs] + ["events"]
    w.writerow(head)
    yield take()
    run = rp.trace.run
    body = None
    for k in range(len(recs)):
        if body is None or not run.is_repeat(k):
            rec, d = recs[k], rp.trace.diagnoses[k]
            loss = "" if rec.loss is None or not math.isfinite(rec.loss) else repr(rec.loss)  # events say why
            body = [loss, d.case or "", int(rec.halted), " ".join(d.dead)]
            for li in range(len(c.layer_names)):
                for j in range(rec.pre[li].shape[1]):
                    body += [repr(float(rec.pre[li][r, j])) for r in range(4)]
            body += [repr(rec.value(r)) for r in refs]
            body += ["" if rec.grads is None else repr(rec.grad(r)) for r in refs]
        w.writerow([k, *body, "; ".join(e.text for e in rp.trace.events[k])])
        if k % 1000 == 999:
            yield take()
    yield take()


# ---------------------------------------------------------------- the source's printout


def seed_lines(rp: Replay) -> list[str]:
    """Each epoch printed as the student's loop printed it, through real torch modules.

    The network is rebuilt as ``hide``/``out`` nn.Linear modules holding the record's
    parameters, and the tensors are printed by torch itself (default print options:
    4 decimals), so the text is what the student's code would show for these numbers.
    """
    c = rp.scenario.config
    if len(c.hidden) != 1:
        raise ValueError("--format seed shows the source's 2-h-1 network only")
    out: list[str] = []
    for rec in rp.records:
        out.extend(_seed_epoch(rec))
    return out


def _seed_epoch(rec: Record) -> list[str]:
    c = rec.config
    sizes = c.sizes
    hide, outl = nn.Linear(sizes[0], sizes[1]), nn.Linear(sizes[1], sizes[2])
    with torch.no_grad():
        for mod, (w, b) in zip((hide, outl), rec.params):
            mod.weight.copy_(w[0])
            mod.bias.copy_(b[0])
    x = engine.X
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        print(f"epoch: {rec.epoch}")
        hide_in = hide(x)
        print("hide activate input:", hide_in)
        hide_out = _act_module(c.activations[0])(hide_in)
        print("hide activate output:", hide_out)
        out_in = outl(hide_out)
        print("out activate input:", out_in)
        y = _act_module(c.activations[1])(out_in)
        print("out activate output:", y)
        sd = {f"hide.{k}": v for k, v in hide.state_dict().items()}
        sd.update({f"out.{k}": v for k, v in outl.state_dict().items()})
        print(OrderedDict(sd))
        if rec.halt is not None:
            print(f"RuntimeError: {rec.halt.message}")
        else:
            print("loss:", rec.loss)
    return buf.getvalue().splitlines()


def _act_module(act) -> nn.Module:
    return {
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(act.param),
        "elu": lambda: nn.ELU(act.param),
        "sigmoid": lambda: nn.Sigmoid(),
        "tanh": lambda: nn.Tanh(),
        "identity": lambda: nn.Identity(),
        "gelu": lambda: nn.GELU(),
        "softplus": lambda: nn.Softplus(),
    }[act.name]()
