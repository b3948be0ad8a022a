"""``xor-tui explain``: why a number of a state is what it is, with the live arithmetic.

``xor-tui explain SCENARIO [--epoch N] (--param NAME | --unit NAME | --loss | --halt | --case)
[--json]`` runs the scenario to epoch N (a halt before it: the halt's state) and prints the
explanation ``core.rules.explain`` builds: the same one the app shows.
"""

from __future__ import annotations

import argparse
import json
import sys

from xor_tui.cli.common import EXIT_OK, fail, say

CASE_LOOKBACK = 10  # epochs before the one explained, for where the case changed


def add_parser(sub) -> None:
    """The ``explain`` subcommand's options."""
    e = sub.add_parser(
        "explain",
        help="explain a state's numbers: a parameter's gradient, a unit, the loss, a halt, the case",
        description="Explain a state's numbers with the live arithmetic: a parameter's gradient as the chain "
        "rule row by row and its SGD step, a unit's pre-activations and why it is dead or alive, the loss "
        "row by row, a halt and the step that led to it, the case rule with its live counts.",
    )
    e.add_argument("scenario", metavar="SCENARIO", help="a built-in name (see `xor-tui cases`) or a .toml path")
    e.add_argument(
        "--epoch",
        type=int,
        metavar="N",
        help="the epoch to explain (default 0; for --halt, the halt); past a halt, the halt's state",
    )
    what = e.add_mutually_exclusive_group(required=True)
    what.add_argument("--param", metavar="NAME", help="a parameter: output.bias[0], hidden.weight[1][0], ...")
    what.add_argument("--unit", metavar="NAME", help="a unit: h[0] or hidden[0], h2[1], out or output[0]")
    what.add_argument("--loss", action="store_true", help="the loss, row by row")
    what.add_argument("--halt", action="store_true", help="why training halted, and the step that led there")
    what.add_argument("--case", action="store_true", help="the case rule's checklist with the live counts")
    e.add_argument("--json", action="store_true", help="print one JSON object")


def cmd_explain(args: argparse.Namespace) -> int:
    """Run the scenario to the epoch and print the explanation asked for; 2 with one line for bad input."""
    from xor_tui.core.engine import net
    from xor_tui.core.engine.activations import SpecError
    from xor_tui.core.engine.run import MAX_EPOCHS
    from xor_tui.core.io.scenario import ScenarioError, resolve
    from xor_tui.core.rules import explain

    try:
        sc = resolve(args.scenario)
    except ScenarioError as exc:
        return fail(str(exc))
    if args.epoch is not None and not 0 <= args.epoch <= MAX_EPOCHS:
        got = args.epoch if abs(args.epoch) < 10**12 else f"a {len(str(abs(args.epoch)))}-digit number"
        return fail(f"--epoch must be from 0 to {MAX_EPOCHS:,}, got {got}")
    try:  # the names depend only on the network's shape, which no action changes: check them first
        if args.param is not None:
            net.parse_param(args.param, sc.config)
        if args.unit is not None:
            net.parse_unit(args.unit, sc.config)
    except SpecError as exc:
        return fail(str(exc))
    target = args.epoch if args.epoch is not None else (sc.epochs if args.halt else 0)
    run = sc.new_run()
    run.advance(target, note=say)
    rec = run.current
    if rec.epoch < target and not (args.halt and args.epoch is None):  # it halted on the way
        say(f"{sc.name} halts at epoch {rec.epoch}, before epoch {target}: explaining that state")
    result: explain.Explanation
    try:
        if args.param is not None:
            result = explain.explain_param(rec, args.param)
        elif args.unit is not None:
            result = explain.explain_unit(rec, args.unit)
        elif args.loss:
            result = explain.explain_loss(rec)
        elif args.halt:
            if not rec.halted:
                within = f"at epoch {target}" if args.epoch is not None else f"within its {sc.epochs} epochs"
                return fail(f"{sc.name} has not halted {within}; --halt explains a halt")
            prev = run.records[rec.epoch - 1] if rec.epoch else None
            result = explain.explain_halt(rec, prev)
        else:
            lo = max(0, rec.epoch - CASE_LOOKBACK)
            result = explain.explain_case(rec, [run.records[k] for k in range(lo, rec.epoch)])
    except SpecError as exc:
        return fail(str(exc))
    if args.json:
        sys.stdout.write(json.dumps(explain.to_json(result), ensure_ascii=False, allow_nan=False) + "\n")
    else:
        sys.stdout.write(f"{sc.name}: " + "\n".join(result.lines()) + "\n")
    return EXIT_OK
