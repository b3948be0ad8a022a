"""``xor-tui survey``: argument checks, a rich progress bar and readable tables."""

from __future__ import annotations

import json
import math
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from xor_tui.cli.common import (
    EXIT_INTERRUPTED,
    OutputConsole,
    check_output,
    finish_compile,
    interrupted,
    run_with_progress,
    say,
)
from xor_tui.core.engine.activations import SpecError, parse_activation
from xor_tui.core.engine.net import Config
from xor_tui.core.studies.survey import MAX_N, MAX_SEED, MAX_SURVEY_EPOCHS, OUTCOMES, SurveyResult, run_survey


def _num(value: int) -> str:
    """A number as the message shows it: huge ones by their size, not 400 digits."""
    digits = len(str(abs(value))) if abs(value) < 10**4000 else 4000
    return f"{value:,}" if digits <= 30 else f"a {digits}-digit number"


def survey_config(args) -> Config:
    """Check the arguments; raise SpecError with a message naming the option."""
    if args.n <= 0:
        raise SpecError(f"--n must be at least 1, got {_num(args.n)}")
    if args.n > MAX_N:
        raise SpecError(f"--n must be at most {MAX_N:,}, got {_num(args.n)}")
    if args.epochs < 0:
        raise SpecError(f"--epochs must be 0 or more, got {_num(args.epochs)}")
    if args.epochs > MAX_SURVEY_EPOCHS:
        raise SpecError(f"--epochs must be at most {MAX_SURVEY_EPOCHS:,}, got {_num(args.epochs)}")
    if not math.isfinite(args.lr) or args.lr <= 0:
        raise SpecError(f"--lr must be a finite number above 0, got {args.lr}")
    if args.lr > 1e6:
        raise SpecError(f"--lr must be at most 1e6, got {args.lr:g}")
    if not 0 <= args.seed <= MAX_SEED:
        raise SpecError(f"--seed must be from 0 to {MAX_SEED} (2**64 - 1), got {_num(args.seed)}")
    acts = []
    for opt, spec in (("--hidden", args.hidden), ("--output", args.output)):
        try:
            acts.append(parse_activation(spec))
        except SpecError as exc:
            raise SpecError(f"{opt}: {exc}") from None
    try:
        return Config((2,), tuple(acts), args.loss, args.lr)
    except SpecError as exc:
        raise SpecError(f"--loss: {exc}" if "loss" in str(exc) else str(exc)) from None


def cmd_survey(args) -> int:
    try:
        config = survey_config(args)
    except SpecError as exc:
        say(str(exc))
        return 2
    export = None
    if args.export:
        try:
            index = int(args.export[0])
        except ValueError:
            say(f"--export INDEX must be a whole number, got {args.export[0][:40]!r}")
            return 2
        if not 0 <= index < args.n:
            say(f"--export INDEX must be from 0 to {args.n - 1}")
            return 2
        problem = check_output(args.export[1], args.force, "--export")
        if problem:
            say(problem)
            return 2
        export = (index, args.export[1])
    try:
        result = run_with_progress(
            f"training {args.n:,} networks",
            "survey",
            lambda progress: run_survey(config, args.n, args.epochs, args.seed, progress, note=say),
            args.json,
        )
    except KeyboardInterrupt:
        say(interrupted("survey"))
        return EXIT_INTERRUPTED
    if export:
        from xor_tui.core.io.files import SaveError
        from xor_tui.core.io.scenario import save

        try:
            save(result.scenario_for(export[0]), export[1], overwrite=args.force)
        except FileExistsError as exc:
            say(f"{exc}; pass --force to overwrite")
            return 2
        except (SaveError, OSError) as exc:
            say(str(exc))
            return 2
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        con = OutputConsole(soft_wrap=True)  # long lines stay whole when piped (rich wraps at 80 columns there)
        print_survey(result, con)
        if export:
            con.print(f"network {export[0]} saved as {export[1]} (replay it with `xor-tui replay {export[1]}`)")
    sys.stdout.flush()
    return finish_compile(config)


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def print_survey(r: SurveyResult, con: Console) -> None:
    c = r.config
    con.print(
        Text.assemble(
            ("survey ", "bold"),
            f"{r.n:,} networks x {r.epochs} epochs, ",
            f"{c.summary()}, ",
            f"seed {r.seed}",
        )
    )
    start = Table(title="at the start", title_justify="left", box=None, header_style="bold")
    start.add_column("")
    start.add_column("share", justify="right")
    start.add_row("at least one dead hidden unit", _pct(r.share(r.hidden_dead_any)))
    start.add_row("both hidden units dead", _pct(r.share(r.hidden_dead_all)))
    start.add_row("dead output", _pct(r.share(r.output_dead)))
    cases = r.case_shares()
    if cases:
        for k in list(range(1, 9)) + ["none"]:
            start.add_row(f"case {k}" if k != "none" else "no case", _pct(cases[str(k)]))
    con.print(start)
    if r.epochs == 0:
        return
    end = Table(title=f"after {r.epochs} epochs", title_justify="left", box=None, header_style="bold")
    end.add_column("start")
    end.add_column("count", justify="right")
    for name in OUTCOMES:
        end.add_column(name, justify="right")
    by_case = r.by_case() or {}
    for key, row in by_case.items():
        if row["count"]:
            end.add_row(
                f"case {key}" if key != "none" else "no case", f"{row['count']:,}", *(_pct(row[o]) for o in OUTCOMES)
            )
    total = r.outcome_shares()
    end.add_row(Text("all", style="bold"), f"{r.n:,}", *(_pct(total[o]) for o in OUTCOMES))
    con.print(end)
    hist = r.halt_histogram()
    if any(h["count"] for h in hist):
        con.print(Text("halt epochs (BCELoss range error or a non-finite loss)", style="bold"))
        top = max(h["count"] for h in hist)
        for h in hist:
            bar = "█" * round(30 * h["count"] / top) if top else ""
            con.print(f"  {h['from']:>5}-{h['to']:<5} {h['count']:>8,} {bar}")
    con.print(f"{r.timing_text()}, {r.net_epochs_per_second / 1e6:.1f} M network-epochs/s")
