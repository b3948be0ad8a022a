"""Every key of the main screen, once: bindings, the footer, `?` help, the command palette
and the README's key table are all derived from ``KEYS``."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

from xor_tui.core.view import capitalised

# how a Textual key name is written for people
KEY_LABELS = {
    "space": "space",
    "right": "→",
    "left": "←",
    "up": "↑",
    "down": "↓",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "question_mark": "?",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
    "escape": "escape",
    "enter": "enter",
    "shift+up": "shift+↑",
    "shift+down": "shift+↓",
    "alt+up": "alt+↑",
    "alt+down": "alt+↓",
    "ctrl+up": "ctrl+↑",
    "ctrl+down": "ctrl+↓",
}


@dataclass(frozen=True)
class Key:
    keys: tuple[str, ...]  # Textual key names; the first is the main one. Empty: a mouse gesture
    action: str  # the MainScreen action (without "action_")
    short: str  # footer label
    help: str  # what it does, for help, the palette and the README
    footer: bool = False  # shown in the footer
    idle: bool = True  # refused (dimmed) while a background run is going
    label: str = ""  # how the keys are written, when not derived from ``keys``
    palette: bool = True  # offered in the command palette

    @property
    def keys_text(self) -> str:
        if self.label:
            return self.label
        return ", ".join(KEY_LABELS.get(k, k) for k in self.keys)


CASE_KEYS = tuple(str(k) for k in range(1, 9))

EVENT_HORIZON = 100_000  # epochs `n` looks ahead for an event

KEYS: tuple[Key, ...] = (
    Key(("space", "right"), "step", "Step", "step one epoch", footer=True),
    Key(
        ("b", "left"),
        "back",
        "Back",
        "undo your last change at this epoch (an edit, a nudge, an activation...), one by one; with none "
        "left, step back one epoch (exactly restores the earlier state)",
        footer=True,
    ),
    Key(("p",), "play", "Play/pause", "play / pause (any dialog pauses play)", footer=True),
    Key(
        ("plus", "equals_sign"), "faster", "Faster", "play faster (1 to 240 epochs per second, default 30)", idle=False
    ),
    Key(("minus",), "slower", "Slower", "play slower", idle=False),
    Key(
        ("e",),
        "run_end",
        "To end",
        "run to the end (the scenario's epochs; 200 for a seed), off the UI thread; never past it",
        footer=True,
    ),
    Key(
        ("n",),
        "next_event",
        "Next event",
        "run to the next event (a unit dies or revives, a parameter freezes or thaws, the case changes, a halt), "
        f"up to {EVENT_HORIZON:,} epochs ahead, past the scenario's end if need be",
        footer=True,
    ),
    Key(("x", "escape"), "stop", "Stop", "stop a run or play", idle=False),
    Key(
        ("r",),
        "restart",
        "Restart",
        "restart from the same start (b right after brings the run back); in a lesson, begin the task again",
    ),
    Key(
        ("s",), "reseed", "Reseed",
        "reseed: a new random start in the current setting (b right after brings the run back)", footer=True,
    ),  # fmt: skip
    Key(("g",), "seed_prompt", "Seed…", "go to a seed you type"),
    Key(("h",), "cycle_hidden", "Hidden act", "cycle the hidden activation"),
    Key(("o",), "cycle_output", "Output act", "cycle the output activation"),
    Key(("a",), "pick_activation", "Activation…", "pick an activation for any layer"),
    Key(("l",), "set_lr", "LR…", "change the learning rate"),
    Key(("m",), "cycle_loss", "Loss", "cycle the loss (bce, bce-logits, mse)"),
    Key(
        ("enter",),
        "edit",
        "Edit",
        "edit the selected weight or bias (text, NaN, inf and |value| > 1e6 are refused, nothing changes)",
        footer=True,
    ),
    Key(
        ("y",),
        "why",
        "Why",
        "why, not only what: the live arithmetic of what is selected (a parameter's gradient row by row and "
        "its step; a clicked neuron; the loss chart; the events panel's case), at a halt why it stopped; "
        "w u l h c switch, space b p step and play, escape closes",
        footer=True,
        idle=False,  # a run under it goes on, and the explanation follows it
    ),
    Key(("left_square_bracket", "up"), "select_prev", "Prev param", "select the previous parameter"),
    Key(("right_square_bracket", "down"), "select_next", "Next param", "select the next parameter"),
    Key(
        ("shift+up",),
        "nudge_up",
        "Nudge +0.01",
        "nudge the selected weight or bias up by 0.01: an edit recorded like a typed one (b undoes it)",
    ),
    Key(("shift+down",), "nudge_down", "Nudge -0.01", "nudge the selected weight or bias down by 0.01"),
    Key(("alt+up", "ctrl+up"), "nudge_up_big", "Nudge +0.1", "nudge the selected weight or bias up by 0.1"),
    Key(("alt+down", "ctrl+down"), "nudge_down_big", "Nudge -0.1", "nudge the selected weight or bias down by 0.1"),
    Key(
        (),
        "",
        "",
        "select the clicked connection, bias or neuron (its weight or bias; y then explains the neuron itself)",
        label="click",
        palette=False,
    ),
    Key(
        (),
        "",
        "",
        "over the selected connection or neuron in the diagram: nudge it by 0.01 (up or down)",
        label="wheel",
        palette=False,
    ),
    Key(
        ("t",),
        "target_mode",
        "Target…",
        "target mode: pick a case 1-8; its rules are listed live (✓/✗) with the parameters that move each "
        "failing one and which way; t again or escape leaves",
    ),
    Key(
        ("T",),
        "apply_target",
        "Apply target",
        "target mode: apply the fewest edits that make it the target case (recorded edits: b undoes them "
        "one by one, w saves them)",
        label="T (shift+t)",
    ),
    Key(CASE_KEYS, "load_case", "Case", "load the source's case 1 … 8", label="1 … 8", palette=False),
    Key(("c",), "pick_scenario", "Scenarios", "load a built-in scenario from a list", footer=True),
    Key(
        ("f",),
        "open_file",
        "Open…",
        "load a scenario file (`.toml`), start weights from a PyTorch state_dict (`.pt`), or the first run "
        "of a printout log (its float32 start recovered)",
    ),
    Key(
        ("w",),
        "save",
        "Save…",
        "save the session as a scenario (asks before overwriting); `xor-tui replay FILE` reproduces it",
    ),
    Key(("H",), "lesson_hint", "Hint", "lesson: show or hide the current task's hint", label="H (shift+h)"),
    Key(
        ("N",),
        "lesson_next",
        "Next task",
        "lesson: on to the next task (skips this one unless it is done)",
        label="N (shift+n)",
    ),
    Key(("P",), "lesson_prev", "Prev task", "lesson: back to the previous task, begun again", label="P (shift+p)"),
    Key(
        ("L",),
        "lesson_panel",
        "Lesson panel",
        "lesson: show its panel or 'what is happening' in its place",
        label="L (shift+l)",
    ),
    Key(("v",), "survey", "Survey", "survey screen: random starts in this setting (20,000 unless you type a count)"),
    Key(
        ("V",),
        "sweep",
        "Sweep",
        "sweep screen: the survey over a grid of learning rate x init scale, as heatmaps",
        label="V (shift+v)",
    ),
    Key(("k",), "find_seed", "Find seed", "find a seed whose start is in case k"),
    Key(("tab",), "app.focus_next", "Next panel", "focus the next panel", idle=False, palette=False),
    Key(("z",), "maximize", "Maximise", "maximise the focused panel, or restore it", idle=False),
    Key(
        ("i",),
        "screenshot",
        "Screenshot",
        "save the screen as an SVG file next to the session (beside the scenario file it came from or was "
        "saved to, else in the current folder), named after the scenario and epoch with a number; never "
        "overwrites",
        idle=False,
    ),
    Key(("question_mark",), "help", "Help", "help: every key", footer=True, idle=False),
    Key(
        ("ctrl+p",),
        "app.command_palette",
        "Palette",
        "command palette: every action above is there too",
        idle=False,
        palette=False,
    ),
    Key(("q",), "app.quit", "Quit", "quit", footer=True, idle=False, palette=False),
)

IDLE_ONLY = frozenset(k.action for k in KEYS if k.idle)


# the footer's keys, in the order it shows them: what a narrow terminal cuts is the end, so help
# comes first and quit right after the keys that move the run
FOOTER_ORDER = (
    "help", "step", "back", "play", "run_end", "next_event", "app.quit", "why", "reseed", "edit", "pick_scenario"
)  # fmt: skip


def bindings() -> list[BindingType]:  # (Screen.BINDINGS' type: a list is invariant)
    """The MainScreen's bindings: the first key of each entry shown (in the footer when asked),
    the footer's in FOOTER_ORDER."""
    out: list[BindingType] = []
    for k in sorted(KEYS, key=lambda k: FOOTER_ORDER.index(k.action) if k.footer else len(FOOTER_ORDER)):
        if not k.keys or k.action == "app.command_palette":  # the App binds the palette itself
            continue
        if k.action == "load_case":
            out += [Binding(key, f"load_case({key})", f"Case {key}", show=False) for key in k.keys]
            continue
        out.append(Binding(k.keys[0], k.action, k.short, show=k.footer))
        out += [Binding(key, k.action, k.short, show=False) for key in k.keys[1:]]
    return out


def help_rows() -> list[tuple[str, str]]:
    """(keys, what they do) for every entry, in order."""
    return [(k.keys_text, capitalised(k.help)) for k in KEYS]


def readme_table() -> str:
    """The README's key table, exactly."""
    lines = ["| key | action |", "|---|---|"]
    for keys, what in help_rows():
        lines.append(f"| {keys} | {what[0].lower() + what[1:]} |".replace("|value|", "\\|value\\|"))
    return "\n".join(lines)


def palette_entries() -> list[Key]:
    return [k for k in KEYS if k.palette and k.action]
