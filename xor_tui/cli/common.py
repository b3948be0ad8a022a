"""What every command shares: exit statuses, one-line messages on stderr, the Ctrl-C message,
the check of an output file before any work, and a progress bar on a terminal."""

from __future__ import annotations

import os
import stat
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

EXIT_OK, EXIT_EXPECT, EXIT_INPUT, EXIT_CRASH, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 3, 130, 141

# the activations' names and syntax for --help, which must not import torch to list them
# (core/engine/activations.py's NAMES; a test checks that every name is here)
ACTIVATION_HELP = (
    "relu, leaky_relu, elu, sigmoid, tanh, identity, gelu or softplus; "
    "leaky_relu's slope or elu's alpha after a colon, e.g. leaky_relu:0.01"
)


def say(message: str, error: bool = False) -> None:
    """One line on stderr, whatever the message holds and wherever stderr goes (an error in
    red on a terminal)."""
    from xor_tui.core.text import printable

    line = f"xor-tui: {printable(message, 1000)}"
    if error and sys.stderr.isatty():
        line = f"\x1b[1;31m{line}\x1b[0m"
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def fail(message: str) -> int:
    """Say ``message`` as an error; the exit status for bad input."""
    say(message, error=True)
    return EXIT_INPUT


def interrupted(command: str = "") -> str:
    """The one-line message for Ctrl-C. A survey or sweep writes its files only at the end."""
    if command in ("survey", "sweep"):
        return f"{command} interrupted (Ctrl-C); nothing was written"
    return "interrupted"


def check_output(path: str, force: bool, option: str) -> str | None:
    """Why ``path`` cannot be written (checked before any work), or None."""
    if not path:
        return f"{option}: the file name is empty"
    if path.endswith(("/", os.sep)):
        return f"{option}: {path}: names a folder, expected a file name"
    if os.path.lexists(path):
        try:
            mode = os.stat(path).st_mode
        except OSError:  # a dangling symlink
            mode = None
        if mode is not None and not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            return f"{option}: {path}: is {kind}; refusing to replace it"
        if not force:
            return f"{option}: {path}: already exists; pass --force to overwrite"
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        return f"{option}: {folder}: no such folder"
    if not os.access(folder, os.W_OK):
        return f"{option}: {folder}: folder is not writable"
    return None


def run_with_progress(what: str, total_label: str, run, quiet: bool):
    """Call ``run(progress)`` with a progress bar on stderr when stderr is a terminal."""
    if quiet or not sys.stderr.isatty():
        return run(None)
    err = Console(stderr=True)
    with Progress(
        TextColumn(what),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(total_label, total=1)
        return run(lambda done, total: bar.update(task, completed=done, total=max(total, 1)))


COMPILE_WAIT = 90.0  # seconds a command waits, after its output, for a kernel build it started


class OutputConsole(Console):
    """A console for a command's output: a reader that went away (`| head`) ends the command
    with status 141 (cli.main), where Rich would exit 1, which here means "an expectation failed"."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError


def finish_compile(config) -> int:
    """After a survey's or sweep's output: a kernel build the command started is still under
    way (the torch engine finished first), and would die with the process, so the next survey
    of the setting would start it again. It is waited for, at most COMPILE_WAIT seconds, and
    what became of it said on stderr; the command's exit status (130 when Ctrl-C skipped it:
    the output is whole, but Ctrl-C always exits 130)."""
    import time

    from xor_tui.core.studies import survey

    if not survey.compiling(config):  # (nor when the cache cannot keep it: the compile note said so)
        return EXIT_OK
    say(
        "the fused kernel for this setting is still compiling: waiting for it so that the next survey or "
        f"sweep of this setting runs on it (at most {COMPILE_WAIT:.0f} s; Ctrl-C skips it)"
    )
    t0 = time.monotonic()
    try:
        ended = survey.finish_compile(config, COMPILE_WAIT)
    except KeyboardInterrupt:
        say("compile stopped (Ctrl-C); the output above is whole; the next survey of this setting compiles again")
        return EXIT_INTERRUPTED
    if ended == "kept":
        say(f"compiled {time.monotonic() - t0:.0f} s later and kept: the next survey of this setting runs on it")
    elif ended == "timed out":
        say(f"the compile did not finish in {COMPILE_WAIT:.0f} s and is stopped; the next survey tries again")
    elif ended == "failed":
        say("the compile failed; surveys of this setting keep to the torch engine (exact, slower)")
    return EXIT_OK
