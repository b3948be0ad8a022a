"""``xor-tui target``: the fewest parameters to change so that a start is in case K."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from xor_tui.cli.common import EXIT_EXPECT, EXIT_OK, check_output, fail

if TYPE_CHECKING:  # the solver imports torch: only when the command runs
    from xor_tui.core.io.scenario import Scenario
    from xor_tui.core.rules.target import TargetResult


def add_target_parser(sub: argparse._SubParsersAction) -> None:
    """The ``target`` subcommand's arguments."""
    t = sub.add_parser(
        "target",
        help="the fewest parameters to change so that a start is in case K",
        description="Find the fewest weights and biases to change so that the start of SCENARIO (or PyTorch's "
        "default start for --seed S) is in the source's case K, each edit keeping a margin from every sign "
        "boundary and every output within [0, 1] (so BCELoss does not halt at epoch 0). Fewer edits than "
        "reported are proved impossible. Exit status: 0 found, 1 not within --max-edits, 2 bad input.",
    )
    t.add_argument(
        "scenario", nargs="?", metavar="SCENARIO", help="a built-in name (see `xor-tui cases`) or a .toml path"
    )
    t.add_argument("--seed", type=int, metavar="S", help="start from PyTorch's default start for seed S instead")
    t.add_argument("--case", type=int, required=True, metavar="K", help="the case to reach, 1 to 8")
    t.add_argument("--max-edits", type=int, default=3, metavar="M", help="most parameters to change (default 3)")
    t.add_argument(
        "--margin", type=float, default=None, metavar="X", help="distance kept from every boundary (default 0.05)"
    )
    t.add_argument("--out", metavar="FILE", help="also write the edited start as a scenario FILE (.toml)")
    t.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    t.add_argument("--json", action="store_true", help="print one JSON object")


def _number(value: float) -> str:
    """A float32 value as its shortest exact text (what to type)."""
    import numpy as np

    return np.format_float_positional(np.float32(value), unique=True, trim="-", sign=True)


def cmd_target(args: argparse.Namespace) -> int:
    """Run ``target``: solve, print, and write ``--out``."""
    from xor_tui.core.engine.actions import MAX_SEED
    from xor_tui.core.engine.net import Config
    from xor_tui.core.engine.run import Start
    from xor_tui.core.io.scenario import Scenario, ScenarioError, resolve, save
    from xor_tui.core.rules import target
    from xor_tui.core.rules.diagnosis import diagnose

    if (args.scenario is None) == (args.seed is None):
        return fail("give a SCENARIO or --seed S (one of them)")
    if not 1 <= args.case <= 8:
        return fail(f"--case must be 1 to 8, got {args.case}")
    if not 0 <= args.max_edits <= target.MAX_EDITS:
        return fail(f"--max-edits must be 0 to {target.MAX_EDITS}, got {args.max_edits}")
    margin = target.MARGIN if args.margin is None else args.margin
    if not 0 < margin <= 0.2:  # NaN fails too
        return fail(f"--margin must be above 0 and at most 0.2, got {margin}")
    if args.out is not None:
        why = check_output(args.out, args.force, "--out")
        if why:
            return fail(why)
    if args.seed is not None:
        if not 0 <= args.seed <= MAX_SEED:
            return fail(f"--seed must be from 0 to 2**63-1, got {args.seed}")
        sc = Scenario(f"seed{args.seed}", Config(), Start("seed", seed=args.seed), 200,
                      "PyTorch's default nn.Linear start for this seed, the source's setting.")
    else:
        try:
            sc = resolve(args.scenario)
        except ScenarioError as exc:
            return fail(str(exc))
    why = target.supported(sc.config)
    if why is not None:
        return fail(f"{sc.name}: {why}; the target solver covers the source's 2-2-1 ReLU/ReLU network with BCELoss")
    params = sc.start.params(sc.config)
    res = target.solve(sc.config, params, args.case, args.max_edits, margin)
    written = None
    note = None
    if res.ok and args.out is not None:
        out = _edited(sc, res)
        run = out.new_run()
        got = diagnose(run.current).case
        if got != args.case:  # the scenario's own script acts at epoch 0
            note = f"the scenario's script acts at epoch 0: with it, epoch 0 is case {got}, not {args.case}"
            out.expect = []
        try:
            written = str(save(out, args.out, overwrite=args.force))
        except FileExistsError:
            return fail(f"--out: {args.out}: already exists; pass --force to overwrite")
        except (OSError, ScenarioError) as exc:
            return fail(str(exc))
    if args.json:
        doc = {"scenario": sc.name, **res.to_json(), "out": written, "note": note}
        sys.stdout.write(json.dumps(doc) + "\n")
    else:
        _print(sc.name, res)
        if note:
            print(f"note: {note}")
        if written:
            print(f"wrote {written}")
    return EXIT_OK if res.ok else EXIT_EXPECT


def _print(name: str, res: TargetResult) -> None:
    """The result as text: the edits, one a line, then the engine's verdict."""
    from xor_tui.core.text import printable

    print(f"{printable(name)} -> case {res.case}: {res.message}")
    if res.edits:
        width = max(len(e.param) for e in res.edits)
        for e in res.edits:
            print(f"  {e.param:<{width}}  {_number(e.before):>12} -> {_number(e.after)}")
    if res.ok:
        nxt = f"case {res.next_case}" if res.next_case is not None else "no case"
        print(
            f"result: case {res.result_case} at epoch 0 by the engine's diagnosis, {nxt} after one step; "
            f"nearest boundary {res.distance:.4f} away (margin {res.margin:g})"
        )


def _edited(sc: Scenario, res: TargetResult) -> Scenario:
    """The scenario with the edited start: its network, training, epochs and script as given,
    its expectations replaced by the one the edit makes true (epoch 0 is case K), a lesson's
    steps and tasks left out (they were written for the start as it was)."""
    from dataclasses import replace

    from xor_tui.core.engine.run import Start
    from xor_tui.core.io.scenario import Expectation

    said = ", ".join(f"{e.param} {_number(e.before)} -> {_number(e.after)}" for e in res.edits) or "no edit"
    description = f"{sc.name} edited to be case {res.case} at epoch 0 ({said}; xor-tui target)."
    if sc.description:
        description += f" Before the edits: {sc.description}"
    return replace(
        sc,
        name=f"{sc.name}-case{res.case}"[:200],
        description=description,
        start=Start("explicit", values=res.params),
        expect=[Expectation(0, case=res.case, halted=False)],
        steps=[],
        tasks=[],
    )
