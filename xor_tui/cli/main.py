"""The ``xor-tui`` command. Textual is imported only when the app is opened."""

from __future__ import annotations

import argparse
import contextlib
import errno
import math
import os
import sys

from rich.text import Text

from xor_tui.cli.common import (
    ACTIVATION_HELP,
    EXIT_CRASH,
    EXIT_EXPECT,
    EXIT_INPUT,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PIPE,
    OutputConsole,
    fail,
    interrupted,
    say,
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with one line (argparse prints the usage too)
        fail(f"{message} (see {self.prog} --help)")
        self.exit(EXIT_INPUT)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="xor-tui", description="Watch a 2-2-1 ReLU network meet XOR: the dying-ReLU problem, live.")
    p.add_argument("--scenario", metavar="NAME_OR_PATH", help="open the app on a built-in scenario or a file")
    p.add_argument("--seed", type=int, metavar="S", help="open the app on PyTorch's default start for seed S")
    p.add_argument(
        "--root",
        metavar="DIR",
        help="f, w and i reach only files inside DIR (relative paths; what `xor-tui serve` gives each page)",
    )
    p.add_argument("--read-only", action="store_true", help="w and i write nothing")
    p.add_argument("--quota", metavar="SIZE", help="w and i write at most SIZE in all (e.g. 50MB)")
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
    r.add_argument(
        "--csv", metavar="FILE", help="also write the trace as CSV to FILE ('-': print it instead of the trace)"
    )
    r.add_argument("--force", action="store_true", help="overwrite FILE for --csv if it exists")

    sub.add_parser("cases", help="list the built-in scenarios")

    from xor_tui.cli.import_log import add_parser as add_import

    add_import(sub)

    from xor_tui.cli.explain import add_parser as add_explain

    add_explain(sub)

    from xor_tui.core.rules.outcomes import outcome_legend

    s = sub.add_parser(
        "survey",
        help="train many random starts at once and count the cases and outcomes",
        epilog=f"How a run ends: {outcome_legend()}.",
    )
    s.add_argument("--n", type=int, default=100_000, help="number of networks (default 100000)")
    s.add_argument("--epochs", type=int, default=200, help="epochs (default 200; 0 reports the start only)")
    s.add_argument("--lr", type=float, default=0.001, help="learning rate (default 0.001)")
    s.add_argument("--hidden", default="relu", help=f"hidden activation (default relu): {ACTIVATION_HELP}")
    s.add_argument("--output", default="relu", help=f"output activation (default relu): {ACTIVATION_HELP}")
    s.add_argument("--loss", default="bce", help="bce, bce-logits or mse (default bce)")
    s.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.add_argument(
        "--export", nargs=2, metavar=("INDEX", "FILE"), help="also save network INDEX of the survey as a scenario FILE"
    )
    s.add_argument("--force", action="store_true", help="overwrite FILE for --export if it exists")

    from xor_tui.cli.sweep import add_sweep_parser

    add_sweep_parser(sub)

    from xor_tui.cli.target import add_target_parser

    add_target_parser(sub)

    sv = sub.add_parser("serve", help="serve the app to web browsers (textual-serve), one app per page")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--public-url", metavar="URL", help="the URL browsers use, if not http://HOST:PORT")
    sv.add_argument("--scenario", metavar="NAME_OR_PATH", default=argparse.SUPPRESS, help="as for xor-tui")
    sv.add_argument("--seed", type=int, metavar="S", default=argparse.SUPPRESS, help="as for xor-tui")
    sv.add_argument(
        "--token",
        help="the access token pages need (default: $XOR_TUI_TOKEN, else a new random one each start); "
        "other users of this machine can read a command line: prefer the variable",
    )
    sv.add_argument("--no-token", action="store_true", help="let in anyone who reaches the port (warned)")
    sv.add_argument(
        "--root",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="the only folder pages reach with f, w and i (default: a new folder here, or a temporary one)",
    )
    sv.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS, help="pages cannot w or i")
    sv.add_argument(
        "--quota", metavar="SIZE", default=argparse.SUPPRESS, help="bytes each page may write (default 50MB)"
    )
    sv.add_argument(
        "--max-clients",
        type=int,
        metavar="N",
        help="pages at once (default: as many apps as fit in a quarter of this machine's memory)",
    )

    sn = sub.add_parser("snapshot", help="render the app at an epoch to an SVG or PNG file, headless")
    sn.add_argument("scenario", metavar="SCENARIO", help="a built-in name (see `xor-tui cases`) or a .toml path")
    sn.add_argument("--epoch", type=int, default=0, metavar="N", help="epoch to show (default 0; stops at a halt)")
    sn.add_argument("--size", default="120x36", metavar="WxH", help="terminal size in cells (default 120x36)")
    sn.add_argument("-o", "--output", required=True, metavar="FILE", help="FILE.svg or FILE.png")
    sn.add_argument(
        "--keys",
        default="",
        metavar="KEYS",
        help="keys to press there first, space-separated as Textual names them, e.g. 'v enter' (the survey "
        "screen, run) or 'V' (the sweep)",
    )
    sn.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    return p


_app_ran = False  # set once the app has been opened: the process then ends without a slow teardown


def run() -> None:
    """The ``xor-tui`` command: main(), then end the process with its status."""
    code = main()
    kernel = sys.modules.get("xor_tui.core.engine.fast.kernel")
    if kernel is not None:  # no kernel build (a child process) outlives the command
        kernel.cancel_builds()
    if _app_ran:
        from xor_tui.app.lifecycle import leave

        leave(code)  # the interpreter's teardown of torch and textual takes 1-2 s and does nothing here
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # (a write that fails fails here, not at the interpreter's exit)
        return code
    except KeyboardInterrupt:  # before a command's own handler is in place (e.g. while importing)
        words = sys.argv[1:] if argv is None else argv
        fail(interrupted(next((w for w in words if w in ("survey", "sweep")), "")))
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `xor-tui replay case1 | head`: the reader left
        _drop_output()
        return EXIT_PIPE  # what a program stopped by SIGPIPE reports, like `yes | head`
    except OSError as exc:  # the output cannot be written (`> /dev/full`: no space left on device)
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO):
            raise
        _drop_output()
        say(f"cannot write the output: {exc.strerror or exc}", error=True)
        return EXIT_CRASH


def _drop_output() -> None:
    """Standard output goes nowhere from now on, so the flush at exit does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "replay":
        return cmd_replay(args)
    if args.command == "cases":
        return cmd_cases()
    if args.command == "import":
        from xor_tui.cli.import_log import cmd_import

        return cmd_import(args)
    if args.command == "explain":
        from xor_tui.cli.explain import cmd_explain

        return cmd_explain(args)
    if args.command == "survey":
        from xor_tui.cli.survey import cmd_survey

        return cmd_survey(args)
    if args.command == "sweep":
        from xor_tui.cli.sweep import cmd_sweep

        return cmd_sweep(args)
    if args.command == "target":
        from xor_tui.cli.target import cmd_target

        return cmd_target(args)
    if args.command == "serve":
        from xor_tui.cli.serve import cmd_serve

        return cmd_serve(args, fail)
    if args.command == "snapshot":
        from xor_tui.cli.snapshot import cmd_snapshot

        return cmd_snapshot(args, fail)
    return open_app(args)


def open_app(args) -> int:
    from xor_tui.core.engine.run import SpecError, check_seed
    from xor_tui.core.io.scenario import ScenarioError, builtin_names, resolve

    scenario = None
    try:
        if args.scenario and args.seed is not None:
            return fail("give --scenario or --seed, not both")
        if args.scenario:
            scenario = resolve(args.scenario)
        elif args.seed is not None:
            check_seed(args.seed)
    except (ScenarioError, SpecError) as exc:
        return fail(str(exc))
    from_file = args.scenario if scenario is not None and args.scenario not in builtin_names() else None
    if from_file is not None:
        from_file = os.path.abspath(from_file)  # before a --root changes the current folder
    files = _files(args)
    if isinstance(files, int):
        return files
    from xor_tui.app.lifecycle import install
    from xor_tui.app.main import XorApp

    global _app_ran
    _app_ran = True
    app = XorApp(scenario=scenario, seed=args.seed, scenario_file=from_file, files=files)
    install(app)  # leave promptly on SIGTERM, SIGHUP and a closed web client
    try:
        app.run()
    except Exception as exc:  # the app died before it could report it itself
        fail(f"the app stopped on an error: {type(exc).__name__}: {exc}")
        return EXIT_CRASH
    code = app.return_code
    if code:  # Textual sets 1 after an unhandled exception (and has printed it)
        fail(f"the app stopped on an error (exit status {code})")
        return code
    return EXIT_OK


def _files(args):
    """The app's Files policy from --root, --read-only and --quota (a --root becomes the current
    folder, so that paths typed and shown are relative to it); an exit status after a one-line
    error."""
    from xor_tui.core.io.files import os_refuses
    from xor_tui.core.io.folder import Files, parse_size

    quota = None
    if args.quota is not None:
        try:
            quota = parse_size(args.quota)
        except ValueError as exc:
            return fail(f"--quota: {exc}")
    if args.root is None:
        return Files(None, args.read_only, quota)
    why = os_refuses(args.root)
    if why:
        return fail(f"--root: {why}")
    if not os.path.isdir(args.root):
        return fail(f"--root {args.root}: no such folder")
    try:
        os.chdir(args.root)
    except OSError as exc:
        return fail(f"--root {args.root}: {exc.strerror or exc}")
    from xor_tui.core.io.files import confine

    confine(".")  # every file this page's app opens is checked once open (no check-then-open race)
    return Files(".", args.read_only, quota)


def cmd_cases() -> int:
    from xor_tui.core.io.scenario import builtin, builtin_names

    con = OutputConsole()
    if not con.is_terminal:  # a pipe or a file gets whole lines
        con = OutputConsole(width=1000)
    names = builtin_names()
    width = max(len(n) for n in names)
    for name in names:
        sc = builtin(name)
        c = sc.config
        lr = c.lr_text
        net = f"{c.shape_text} {'/'.join(a.spec for a in c.activations)}"
        net = net if len(net) <= 30 else f"{c.shape_text} {'/'.join(a.name[:4] for a in c.activations)}"
        line = Text.assemble(
            (name.ljust(width), "bold cyan"),
            f"  {net:<30} lr {lr:<9} {sc.epochs:>5} ep  ",
            (sc.description.split(". ")[0].removesuffix("."), "dim"),
        )
        line.truncate(max(con.width, 60), overflow="ellipsis")  # a terminal: one screen line each
        con.print(line, no_wrap=True)
    return EXIT_OK


def cmd_replay(args) -> int:
    from xor_tui.core.engine.run import MAX_EPOCHS
    from xor_tui.core.io.files import check_target
    from xor_tui.core.io.scenario import ScenarioError, resolve
    from xor_tui.core.studies import report
    from xor_tui.core.studies.replay import replay

    if args.csv == "-" and args.json:
        return fail("--csv - and --json both write to standard output; choose one")
    if args.csv not in (None, "-"):  # say now, not after a long run, that the file cannot be written
        try:
            check_target(args.csv, args.force)
        except FileExistsError as exc:
            return fail(f"{exc}; pass --force to overwrite")
        except OSError as exc:
            return fail(str(exc))
    try:
        sc = resolve(args.scenario)
    except ScenarioError as exc:
        return fail(str(exc))
    if args.epochs is not None and not 0 <= args.epochs <= MAX_EPOCHS:
        got = args.epochs if abs(args.epochs) < 10**12 else f"a {len(str(abs(args.epochs)))}-digit number"
        return fail(f"--epochs must be from 0 to {MAX_EPOCHS:,}, got {got}")
    if args.format == "seed" and len(sc.config.hidden) != 1:
        return fail(
            "--format seed prints the source's one-hidden-layer network; "
            f"{sc.name} has {len(sc.config.hidden)} hidden layers"
        )
    rp = replay(sc, args.epochs, note=say)
    if args.csv == "-":  # the CSV is the output
        sys.stdout.writelines(report.csv_chunks(rp))
        return EXIT_EXPECT if rp.failed or rp.failed_tasks else EXIT_OK
    if args.csv is not None:
        err = _write_text(args.csv, report.csv_chunks(rp), args.force)
        if err:
            return fail(err)
    if args.json:
        report.write_replay_json(rp, sys.stdout)
    elif args.format == "seed":
        from xor_tui.core.io.printout import seed_lines

        sys.stdout.write("\n".join(seed_lines(rp)) + "\n")
    else:
        _print_replay(rp)
    return EXIT_EXPECT if rp.failed or rp.failed_tasks else EXIT_OK


def _write_text(path: str, text, overwrite: bool) -> str | None:
    from xor_tui.core.io.files import write_atomic

    try:
        write_atomic(path, text, overwrite=overwrite)
    except FileExistsError as exc:
        return f"{exc}; pass --force to overwrite"
    except OSError as exc:
        return str(exc)
    return None


def _fmt_loss(loss) -> str:
    return "—" if loss is None or not math.isfinite(loss) else f"{loss:.6f}"


def _print_replay(rp) -> None:
    from xor_tui.core.text import printable

    con = OutputConsole(highlight=False, soft_wrap=True)  # long lines stay whole when piped
    sc = rp.scenario
    c = sc.config
    con.print(
        Text.assemble(
            (printable(sc.name), "bold cyan"),
            f"  {c.summary()}, start {sc.start.describe()}",
        )
    )
    if sc.description:
        con.print(Text(printable(sc.description, 2000), style="dim"))
    for st in sc.steps_at(None):  # a lesson's text shown on loading
        con.print(Text("» " + printable(st.text, 4000)))
    # the per-epoch table is written line by line: a million epochs stream out in seconds
    out = sys.stdout
    tr, run = rp.trace, rp.trace.run
    n = len(rp.records)
    out.write(f"{'epoch':>7}  {'loss':>10}  {'case':<16}  {'dead':<20}  events\n")
    row, events, repeats, losses = None, tr.events, run.repeats(0, n), run.losses(0, n)
    told: dict[int, list] = {}
    for st in sc.steps:
        if st.epoch is not None:
            told.setdefault(st.epoch, []).append(st)
    for k in range(n):
        if row is None or not repeats[k]:
            case, dead = tr.row(k)
            loss = losses[k] if k < n - 1 else tr.records[k].loss  # the last one may be a halt
            row = f"{_fmt_loss(loss):>10}  {case.replace('case ', ''):<16}  {', '.join(dead) or '-':<20}"
        evs = events[k]
        line = f"{k:>7}  {row}  {'; '.join(e.text for e in evs)}" if evs else f"{k:>7}  {row}"
        out.write(line.rstrip() + "\n")
        for st in told.get(k, ()):  # a lesson's text at this epoch
            out.write(f"{'':>7}  » {printable(st.text, 4000)}\n")
    out.flush()
    final = rp.final
    d = tr.diagnoses[final.epoch]
    con.rule("final")
    state = "halted" if final.halted else "running"
    loss = _fmt_loss(final.loss)
    if final.loss is not None and not math.isfinite(final.loss):
        loss += f" (the loss is {final.loss}: not finite)"
    con.print(
        f"state after {final.epoch} update(s): {state}, loss {loss}, {d.case_text}, dead: {', '.join(d.dead) or 'none'}"
    )
    preds = final.predictions()
    con.print("predictions: " + "  ".join(f"{row}->{float(p):.3f}" for row, p in zip(("00", "01", "10", "11"), preds)))
    for line in d.explanation:
        con.print(Text("• " + line))
    if sc.expect:
        con.rule("expectations")
        for v in rp.verdicts:
            window = v.expectation.window
            if v.skipped:
                con.print(Text.assemble(("skip", "dim"), f" {window}: {v.skipped}"))
                continue
            mark = Text("ok  ", style="green") if v.ok else Text("FAIL", style="bold red")
            said = "; ".join(v.failures) if v.failures else "; ".join(v.checked)
            if v.ok and v.expectation.epoch is None:  # a window: when it held
                said += f" {v.where}"
            con.print(Text.assemble(mark, f" {window}: ", printable(said, 4000)))
    if rp.tasks:
        con.rule("tasks (each proved with the lesson's own solution)")
        for t in rp.tasks:
            mark = Text("ok  ", style="green") if t.ok else Text("FAIL", style="bold red")
            title = (printable(t.task.title), "bold")
            con.print(Text.assemble(mark, f" task {t.index + 1} ", title, ": ", printable(t.text, 4000)))
