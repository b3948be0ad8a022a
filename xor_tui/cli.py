"""The ``xor-tui`` command. Textual is imported only when the app is opened."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

EXIT_OK, EXIT_EXPECT, EXIT_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with one clear line, as argparse does, plus a hint
        self.print_usage(sys.stderr)
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="xor-tui", description="Watch a 2-2-1 ReLU network meet XOR: the dying-ReLU problem, live.")
    p.add_argument("--scenario", metavar="NAME_OR_PATH", help="open the app on a built-in scenario or a file")
    p.add_argument("--seed", type=int, metavar="S", help="open the app on PyTorch's default start for seed S")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    r = sub.add_parser("replay", help="run a scenario headless and print what happened")
    r.add_argument("scenario", metavar="SCENARIO", help="a built-in name (see `xor-tui cases`) or a .toml path")
    r.add_argument("--epochs", type=int, metavar="N", help="epochs to run (default: the scenario's)")
    fmt = r.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON object")
    fmt.add_argument(
        "--format",
        choices=["table", "seed"],
        default="table",
        help="table (default) or seed: every epoch as the source printed it",
    )
    r.add_argument("--csv", metavar="FILE", help="also write the trace as CSV to FILE")
    r.add_argument("--force", action="store_true", help="overwrite FILE for --csv if it exists")

    sub.add_parser("cases", help="list the built-in scenarios")

    from .import_cli import add_parser as add_import

    add_import(sub)

    s = sub.add_parser("survey", help="train many random starts at once and count the cases and outcomes")
    s.add_argument("--n", type=int, default=100_000, help="number of networks (default 100000)")
    s.add_argument("--epochs", type=int, default=200, help="epochs (default 200; 0 reports the start only)")
    s.add_argument("--lr", type=float, default=0.001, help="learning rate (default 0.001)")
    s.add_argument("--hidden", default="relu", help="hidden activation (default relu)")
    s.add_argument("--output", default="relu", help="output activation (default relu)")
    s.add_argument("--loss", default="bce", help="bce, bce-logits or mse (default bce)")
    s.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument(
        "--export", nargs=2, metavar=("INDEX", "FILE"), help="also save network INDEX of the survey as a scenario FILE"
    )
    s.add_argument("--force", action="store_true", help="overwrite FILE for --export if it exists")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "replay":
        return cmd_replay(args)
    if args.command == "cases":
        return cmd_cases()
    if args.command == "import":
        from .import_cli import cmd_import

        return cmd_import(args)
    if args.command == "survey":
        from .survey_cli import cmd_survey

        return cmd_survey(args)
    return open_app(args)


def _err(message: str) -> int:
    Console(stderr=True).print(Text(f"xor-tui: {message}", style="bold red"))
    return EXIT_INPUT


def open_app(args) -> int:
    from .core.run import SpecError, check_seed
    from .core.scenario import ScenarioError, resolve

    scenario = None
    try:
        if args.scenario and args.seed is not None:
            return _err("give --scenario or --seed, not both")
        if args.scenario:
            scenario = resolve(args.scenario)
        elif args.seed is not None:
            check_seed(args.seed)
    except (ScenarioError, SpecError) as exc:
        return _err(str(exc))
    from .app.main import XorApp

    XorApp(scenario=scenario, seed=args.seed).run()
    return EXIT_OK


def cmd_cases() -> int:
    from .core.scenario import builtin, builtin_names

    con = Console()
    names = builtin_names()
    width = max(len(n) for n in names)
    for name in names:
        sc = builtin(name)
        c = sc.config
        lr = f"{c.lr:g}" if c.layer_lr is None else "/".join(f"{v:g}" for v in c.layer_lr)
        net = f"{c.shape_text} {'/'.join(a.spec for a in c.activations)}"
        line = Text.assemble(
            (name.ljust(width), "bold cyan"),
            f"  {net:<30} lr {lr:<9} {sc.epochs:>5} ep  ",
            (sc.description.split(". ")[0].removesuffix("."), "dim"),
        )
        line.truncate(max(con.width, 60), overflow="ellipsis")
        con.print(line, no_wrap=True)
    return EXIT_OK


def cmd_replay(args) -> int:
    from .core import report
    from .core.replay import replay
    from .core.scenario import MAX_EPOCHS, ScenarioError, resolve

    try:
        sc = resolve(args.scenario)
    except ScenarioError as exc:
        return _err(str(exc))
    if args.epochs is not None and not 0 <= args.epochs <= MAX_EPOCHS:
        return _err(f"--epochs must be from 0 to {MAX_EPOCHS}, got {args.epochs}")
    if args.format == "seed" and len(sc.config.hidden) != 1:
        return _err(
            "--format seed prints the source's one-hidden-layer network; "
            f"{sc.name} has {len(sc.config.hidden)} hidden layers"
        )
    if args.csv:
        import os

        if os.path.exists(args.csv) and not args.force:
            return _err(f"{args.csv}: already exists; pass --force to overwrite")
    rp = replay(sc, args.epochs)
    if args.csv:
        err = _write_text(args.csv, report.csv_text(rp))
        if err:
            return _err(err)
    if args.json:
        print(json.dumps(report.replay_json(rp)))
    elif args.format == "seed":
        from .core.printout import seed_lines

        sys.stdout.write("\n".join(seed_lines(rp)) + "\n")
    else:
        _print_replay(rp)
    return EXIT_EXPECT if rp.failed else EXIT_OK


def _write_text(path: str, text: str) -> str | None:
    from .core.files import write_atomic

    try:
        write_atomic(path, text, overwrite=True)
    except OSError as exc:
        return str(exc)
    return None


def _fmt_loss(loss) -> str:
    return "—" if loss is None else f"{loss:.6f}"


def _print_replay(rp) -> None:
    con = Console()
    sc = rp.scenario
    c = sc.config
    con.print(
        Text.assemble(
            (f"{sc.name}", "bold cyan"),
            f"  {c.shape_text} ",
            "/".join(a.label for a in c.activations),
            f", {c.loss}, lr {c.lr:g}, start {sc.start.describe()}",
        )
    )
    if sc.description:
        con.print(Text(sc.description, style="dim"))
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("epoch", justify="right")
    table.add_column("loss", justify="right")
    table.add_column("case", justify="center")
    table.add_column("dead")
    table.add_column("events", overflow="fold")
    tr = rp.trace
    for rec in rp.records:
        d = tr.diagnoses[rec.epoch]
        evs = "; ".join(e.text for e in tr.events[rec.epoch])
        style = "red" if rec.halted else ("yellow" if evs else "")
        table.add_row(
            str(rec.epoch),
            _fmt_loss(rec.loss),
            d.case_text.replace("case ", ""),
            ", ".join(d.dead) or "-",
            evs,
            style=style,
        )
    con.print(table)
    final = rp.final
    d = tr.diagnoses[final.epoch]
    con.rule("final")
    state = "halted" if final.halted else "running"
    con.print(
        f"state after {final.epoch} update(s): {state}, loss {_fmt_loss(final.loss)}, "
        f"{d.case_text}, dead: {', '.join(d.dead) or 'none'}"
    )
    preds = final.predictions()
    con.print("predictions: " + "  ".join(f"{row}->{float(p):.3f}" for row, p in zip(("00", "01", "10", "11"), preds)))
    for line in d.explanation:
        con.print(Text("• " + line))
    if sc.expect:
        con.rule("expectations")
        for v in rp.verdicts:
            if v.skipped:
                con.print(Text.assemble(("skip", "dim"), f" epoch {v.expectation.epoch}: {v.skipped}"))
                continue
            mark = Text("ok  ", style="green") if v.ok else Text("FAIL", style="bold red")
            con.print(
                Text.assemble(
                    mark, f" epoch {v.expectation.epoch}: ", "; ".join(v.failures) if v.failures else "as expected"
                )
            )
