"""``xor-tui sweep``: outcome shares over a grid of learning rate x init scale."""

from __future__ import annotations

import json
import sys

from xor_tui.cli.common import (
    ACTIVATION_HELP,
    EXIT_INTERRUPTED,
    OutputConsole,
    check_output,
    finish_compile,
    interrupted,
    run_with_progress,
    say,
)

# the rest is imported when the command runs: building the parser (--help) imports no torch


def add_sweep_parser(sub) -> None:
    from xor_tui.core.rules.outcomes import outcome_legend

    w = sub.add_parser(
        "sweep",
        help="survey every point of a learning rate x init scale grid",
        epilog=f"How a run ends: {outcome_legend()}.",
    )
    # the defaults are core.studies.sweep's DEFAULT_LRS and DEFAULT_SCALES (written out here: the
    # parser imports no torch; tests/test_sweep.py checks they agree)
    w.add_argument("--lr", default="0.001:1:13", help="learning rates FROM:TO:COUNT, log-spaced (default 0.001:1:13)")
    w.add_argument(
        "--init-scale",
        default="0.25:4:13",
        help="init scales FROM:TO:COUNT, log-spaced: multiples of PyTorch's bound 1/sqrt(fan_in) (default 0.25:4:13)",
    )
    w.add_argument("--hidden", default="relu", help=f"hidden activation (default relu): {ACTIVATION_HELP}")
    w.add_argument("--output", default="relu", help=f"output activation (default relu): {ACTIVATION_HELP}")
    w.add_argument("--loss", default="bce", help="bce, bce-logits or mse (default bce)")
    w.add_argument("--n", type=int, default=100_000, help="networks per point (default 100000)")
    w.add_argument("--epochs", type=int, default=200, help="epochs (default 200)")
    w.add_argument("--seed", type=int, default=0, help="seed of the draw, shared by every point (default 0)")
    w.add_argument("--json", action="store_true", help="print one JSON object")
    w.add_argument(
        "--csv", metavar="FILE", help="also write the grid as CSV to FILE ('-': print it instead of the tables)"
    )
    w.add_argument("--force", action="store_true", help="overwrite FILE for --csv if it exists")


def sweep_setup(args):
    """(config, lrs, scales) from the arguments, or SpecError naming the option."""
    from types import SimpleNamespace

    from xor_tui.cli.survey import survey_config
    from xor_tui.core.engine.activations import SpecError
    from xor_tui.core.studies.sweep import MAX_WORK, log_range

    lrs = log_range(args.lr, "--lr", 1e-6, 1e6)
    scales = log_range(args.init_scale, "--init-scale", 1e-3, 1e3)
    base = SimpleNamespace(**{**vars(args), "lr": lrs[0]})
    config = survey_config(base)  # the same checks as survey's: --n, --epochs, --seed, activations, loss
    work = len(lrs) * len(scales) * args.n * args.epochs
    if work > MAX_WORK:
        raise SpecError(
            f"the grid is {len(lrs)}x{len(scales)} points x {args.n:,} networks x {args.epochs:,} epochs: "
            f"more than {MAX_WORK:.0e} network-epochs; use fewer points, networks or epochs"
        )
    return config, lrs, scales


def cmd_sweep(args) -> int:
    from xor_tui.core.engine.activations import SpecError

    try:
        config, lrs, scales = sweep_setup(args)
    except SpecError as exc:
        say(str(exc))
        return 2
    if args.csv == "-" and args.json:
        say("--csv - and --json both write to standard output; choose one")
        return 2
    if args.csv not in (None, "-"):
        problem = check_output(args.csv, args.force, "--csv")
        if problem:
            say(problem)
            return 2
    from xor_tui.core.studies.sweep import run_sweep

    points = len(lrs) * len(scales)
    try:
        result = run_with_progress(
            f"{points} points x {args.n:,} networks",
            "sweep",
            lambda progress: run_sweep(config, lrs, scales, args.n, args.epochs, args.seed, progress, note=say),
            quiet=False,
        )
    except KeyboardInterrupt:
        say(interrupted("sweep"))
        return EXIT_INTERRUPTED
    if args.csv == "-":
        sys.stdout.write(result.csv_text())
        sys.stdout.flush()
        return finish_compile(config)
    if args.csv is not None:
        from xor_tui.core.io.files import write_atomic

        try:
            write_atomic(args.csv, result.csv_text(), overwrite=args.force)
        except FileExistsError:
            say(f"--csv: {args.csv}: already exists; pass --force to overwrite")
            return 2
        except OSError as exc:
            say(f"--csv: {exc}")
            return 2
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print_sweep(result)
    sys.stdout.flush()
    return finish_compile(config)


def print_sweep(r) -> None:
    """One table per outcome: rows init scale (largest on top), columns learning rate, percent."""
    from rich.table import Table
    from rich.text import Text

    from xor_tui.core.studies.survey import OUTCOMES

    # a terminal narrower than the tables folds them; a pipe or a file gets them whole (rich
    # assumes 80 columns there and cut the labels mid-number: '0.0…')
    con = OutputConsole() if sys.stdout.isatty() else OutputConsole(width=max(80, 12 + 9 * len(r.lrs)))
    c = r.config
    con.print(
        Text.assemble(
            ("sweep ", "bold"),
            f"{len(r.lrs)} learning rates x {len(r.scales)} init scales, {r.n:,} networks x {r.epochs} epochs each, ",
            f"{c.summary(lr=False)}, seed {r.seed}",
        )
    )
    for k, name in enumerate(OUTCOMES):
        t = Table(title=f"{name} (% of starts)", title_justify="left", box=None, header_style="bold", pad_edge=False)
        t.add_column("scale \\ lr", justify="right")
        for lr in r.lrs:
            t.add_column(f"{lr:.3g}", justify="right")
        for i in reversed(range(len(r.scales))):
            t.add_row(f"x{r.scales[i]:.3g}", *(f"{100 * float(r.shares[i, j, k]):.1f}" for j in range(len(r.lrs))))
        con.print(t)
    con.print(f"{r.seconds:.1f} s (training and judging; {r.engine})")
