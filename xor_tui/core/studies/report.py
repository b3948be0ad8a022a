"""Replays as data: JSON records and CSV rows (the student's printout is in printout.py)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch

from xor_tui.core.engine import net
from xor_tui.core.engine.net import Config, Layer, Pass
from xor_tui.core.engine.run import Record, Run
from xor_tui.core.rules.diagnosis import Diagnosis, Event
from xor_tui.core.studies.replay import Replay

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

Json = dict[str, Any]
"""A JSON object, ready for ``json.dumps``."""


def _num(x: float | None, path: str, nonfinite: dict[str, str]) -> float | None:
    """A JSON number; inf, -inf and NaN become null, noted in ``nonfinite`` under ``path``."""
    if x is not None and not math.isfinite(x):
        nonfinite[path] = str(x)
        return None
    return x


def _nested(t: torch.Tensor, path: str, nonfinite: dict[str, str]) -> list[Any]:
    if t.dim() == 2:
        rows = t.tolist()
        return [[_num(v, f"{path}[{i}][{j}]", nonfinite) for j, v in enumerate(row)] for i, row in enumerate(rows)]
    return [_num(v, f"{path}[{i}]", nonfinite) for i, v in enumerate(t.tolist())]


def record_json(
    rec: Record, case: int | None, dead: Iterable[str], evs: Sequence[Event], nearest: int | None = None
) -> Json:
    """One epoch as JSON. ``case`` is null where none matches, and then ``nearest`` is the nearest
    case (null where the cases do not apply). Numbers that are not finite are null, and
    ``nonfinite`` (present only then) maps each one's place, e.g. ``"loss"``, to what it was:
    "inf", "-inf", "nan"."""
    c = rec.config
    nf: dict[str, str] = {}
    params = net.state_dict(rec.params, c)
    grads = net.state_dict(rec.grads, c) if rec.grads is not None else None
    d: Json = {
        "epoch": rec.epoch,
        "loss": _num(rec.loss, "loss", nf),
        "case": case,
        "nearest": nearest,
        "params": {k: _nested(v, f"params.{k}", nf) for k, v in params.items()},
        "grads": None if grads is None else {k: _nested(v, f"grads.{k}", nf) for k, v in grads.items()},
    }
    for li, name in enumerate(c.layer_names):
        d[f"{name}_pre"] = _nested(rec.pre[li], f"{name}_pre", nf)
        d[f"{name}_out"] = _nested(rec.out[li], f"{name}_out", nf)
    d["dead"] = list(dead)
    d["events"] = [{"kind": e.kind, "subject": e.subject, "text": e.text} for e in evs]
    if nf:
        d["nonfinite"] = nf
    return d


def _halt_json(rp: Replay) -> Json | None:
    halt = rp.final.halt
    if halt is None:
        return None
    return {"epoch": halt.epoch, "message": halt.message, "rows": list(halt.rows), "reason": halt.reason}


def _verdicts_json(rp: Replay) -> list[Json]:
    return [
        {
            "epoch": v.expectation.epoch,
            "window": v.expectation.window,
            "ok": v.ok,
            "failures": v.failures,
            "checked": v.checked,
            "where": v.where or None,
            "skipped": v.skipped or None,
        }
        for v in rp.verdicts
    ]


def _tasks_json(rp: Replay) -> list[Json]:
    return [
        {
            "task": t.index + 1,
            "title": t.task.title,
            "ok": t.ok,
            "before": {"ok": t.before.ok, "text": t.before.text},
            "after": {"ok": t.after.ok, "text": t.after.text},
            "edits": t.edits,
        }
        for t in rp.tasks
    ]


def _from_diagnosis(rec: Record, diag: Diagnosis, evs: list[Event]) -> Json:
    return record_json(rec, diag.case, diag.dead, evs, diag.nearest)


def replay_json(rp: Replay) -> Json:
    """The whole replay as one JSON document, every epoch diagnosed afresh (``write_replay_json``
    writes the same text from the trace's stored rows, record by record)."""
    tr = rp.trace
    return {
        "scenario": rp.scenario.name,
        "halt": _halt_json(rp),
        "epochs": [_from_diagnosis(r, tr.diagnoses[r.epoch], tr.events[r.epoch]) for r in rp.records],
        "expectations": _verdicts_json(rp),
        **({"tasks": _tasks_json(rp)} if rp.tasks else {}),
    }


def write_replay_json(rp: Replay, out: SupportsWrite[str]) -> None:
    """``replay_json`` written record by record (the same text as ``json.dumps``), so a long
    replay never holds every record in memory at once. Long stretches of one setting whose
    batched arithmetic is each state's own (``fast_replay``) are measured a slice at a time."""
    tr = rp.trace
    out.write('{"scenario": ' + json.dumps(rp.scenario.name) + ', "halt": ' + json.dumps(_halt_json(rp)))
    out.write(', "epochs": [')
    run, text = tr.run, ""
    n = len(rp.records)
    repeats = run.repeats(0, n)
    batched: dict[int, Json] = {}
    for k in range(n):
        if text and repeats[k] and not tr.events[k - 1]:  # the epoch before again, bit for bit
            text = text.replace(f'{{"epoch": {k - 1}, ', f'{{"epoch": {k}, ', 1)
        else:
            if k not in batched and k % _SLICE == 0:
                batched = _measured_slice(run, k, min(n - 1, k + _SLICE))  # the last one: on its own
            _, dead = tr.row(k)
            d = batched.pop(k, None)
            if d is None:
                d = record_json(rp.records[k], tr.case(k), dead, tr.events[k], tr.nearest(k))
            else:
                d["case"], d["nearest"], d["dead"] = tr.case(k), tr.nearest(k), list(dead)
                d["events"] = [{"kind": e.kind, "subject": e.subject, "text": e.text} for e in tr.events[k]]
            text = json.dumps(d, allow_nan=False)
        out.write((", " if k else "") + text)
    out.write('], "expectations": ' + json.dumps(_verdicts_json(rp)))
    if rp.tasks:
        out.write(', "tasks": ' + json.dumps(_tasks_json(rp)))
    out.write("}\n")


_SLICE = 4096


def _batched(run: Run, lo: int, hi: int) -> Iterator[tuple[Config, range, list[Layer], Pass, torch.Tensor]]:
    """The epochs lo..hi-1 that lie in stretches of a ``fast_replay`` setting, measured in one
    batched pass per stretch: yields (config, epochs, params, Pass, its loss). Stretches holding a number
    that is not finite or an invalid output are left out (their records say it on their own)."""
    from xor_tui.core.engine.run import fast_replay

    for a, b, config in run.segments(lo, hi):
        if not fast_replay(config):
            continue
        rows = run.flat(a, b)
        params = run.batch(rows)
        p = net.evaluate(params, config)
        assert p.loss is not None  # evaluate computes the loss unless told not to
        parts = [p.loss, *p.pre, *p.out, *(t for layer in p.grads for t in layer)]
        if not p.valid.all() or not all(bool(torch.isfinite(t).all()) for t in parts):
            continue
        yield config, range(a, b), params, p, p.loss


def _lists(t: torch.Tensor) -> list[Any]:
    """numpy's tolist: the same Python floats as torch's, ~20x faster."""
    values: list[Any] = t.contiguous().numpy().tolist()  # floats, nested as t is
    return values


def _measured_slice(run: Run, lo: int, hi: int) -> dict[int, Json]:
    """``record_json`` of the epochs lo..hi-1 in ``_batched`` stretches without an action
    (case, dead and events are filled in by the caller)."""
    got: dict[int, Json] = {}
    acted = run.acted(lo, hi)
    for config, epochs, params, p, p_loss in _batched(run, lo, hi):
        names = config.layer_names
        loss = _lists(p_loss)
        plist = [(_lists(x), _lists(y)) for x, y in params]
        glist = [(_lists(x), _lists(y)) for x, y in p.grads]
        pre, post = [_lists(t) for t in p.pre], [_lists(t) for t in p.out]
        for i, k in enumerate(epochs):
            if k in acted:
                continue
            d: Json = {
                "epoch": k,
                "loss": loss[i],
                "case": None,
                "nearest": None,
                "params": {f"{nm}.{kind}": plist[li][j][i] for li, nm in enumerate(names) for j, kind in _KINDS},
                "grads": {f"{nm}.{kind}": glist[li][j][i] for li, nm in enumerate(names) for j, kind in _KINDS},
            }
            for li, nm in enumerate(names):
                d[f"{nm}_pre"] = pre[li][i]
                d[f"{nm}_out"] = post[li][i]
            got[k] = d
    return got


def _csv_slice(run: Run, lo: int, hi: int) -> dict[int, list[str]]:
    """The numbers of a CSV row (loss, pre-activations unit by unit, parameters, gradients) of
    the epochs lo..hi-1 in ``_batched`` stretches without an action, as text."""
    got: dict[int, list[str]] = {}
    acted = run.acted(lo, hi)
    for _, epochs, params, p, p_loss in _batched(run, lo, hi):
        cols = [p_loss[:, None]]
        cols += [z.transpose(1, 2).reshape(len(z), -1) for z in p.pre]  # (B, 4, units) -> unit by unit
        for layers in (params, p.grads):
            for w, b in layers:
                cols += [w.reshape(len(w), -1), b.reshape(len(b), -1)]
        table = _lists(torch.cat(cols, dim=1))
        for i, k in enumerate(epochs):
            if k not in acted:
                got[k] = [repr(v) for v in table[i]]
    return got


_KINDS = ((0, "weight"), (1, "bias"))


def csv_chunks(rp: Replay) -> Iterator[str]:
    """The trace as CSV, a row at a time (a repeat of the epoch before reuses its numbers)."""
    recs = rp.records
    c = rp.scenario.config
    refs = net.all_params(c)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")

    def take() -> str:
        text = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return text

    head = ["epoch", "loss", "case", "nearest", "halted", "dead"]
    for li, name in enumerate(c.layer_names):
        for j in range(c.sizes[li + 1]):
            head += [f"{name}[{j}].pre.r{r}" for r in range(4)]
    head += [r.name(c) for r in refs] + [f"grad:{r.name(c)}" for r in refs] + ["events"]
    w.writerow(head)
    yield take()
    run, tr = rp.trace.run, rp.trace
    n = len(recs)
    repeats = run.repeats(0, n)
    body = None
    batched: dict[int, list[str]] = {}
    names = c.layer_names
    for k in range(n):
        if body is None or not repeats[k]:
            if k not in batched and k % _SLICE == 0:
                batched = _csv_slice(run, k, min(n - 1, k + _SLICE))  # the last one: on its own
            got = batched.pop(k, None)
            if got is None:
                rec, d = recs[k], tr.diagnoses[k]
                loss = "" if rec.loss is None or not math.isfinite(rec.loss) else repr(rec.loss)  # events say why
                body = [loss, d.case or "", d.nearest or "", int(rec.halted), " ".join(d.dead)]
                for li in range(len(names)):
                    for j in range(rec.pre[li].shape[1]):
                        body += [repr(float(rec.pre[li][r, j])) for r in range(4)]
                body += [repr(rec.value(r)) for r in refs]
                body += ["" if rec.grads is None else repr(rec.grad(r)) for r in refs]
            else:  # a stretch measured in one batched pass: the same numbers
                _, dead = tr.row(k)
                body = [got[0], tr.case(k) or "", tr.nearest(k) or "", 0, " ".join(dead), *got[1:]]
        w.writerow([k, *body, "; ".join(e.text for e in tr.events[k])])
        if k % 1000 == 999:
            yield take()
    yield take()
