"""Small modal dialogs: a validated prompt, a choice list, a yes/no question, help."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult, RenderResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.color import Color
from textual.command import CommandPalette
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.css.styles import RulesMap
from textual.geometry import Size
from textual.renderables.background_screen import BackgroundScreen
from textual.screen import ModalScreen, Screen
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, RichVisual, Visual
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

if TYPE_CHECKING:  # the mixins below are mixed into screens: what they use of Screen, for type checkers
    _ScreenMixin = Screen
else:
    _ScreenMixin = object

DIALOG_CSS = """
PromptScreen, ChoiceScreen, ConfirmScreen, HelpScreen { align: center middle; }
#dialog { width: 72; max-width: 95%; height: auto; max-height: 90%; border: thick $accent;
          background: $surface; padding: 1 2; }
#dialog Label.title { text-style: bold; margin-bottom: 1; width: 100%; }
#dialog .error { color: $error; text-style: bold; height: auto; }
#dialog .hint { color: $text-muted; height: auto; }
#dialog OptionList { height: auto; max-height: 20; min-width: 12; }
#dialog Horizontal { height: auto; margin-top: 1; }
#dialog Button { margin-right: 2; }
"""


class InOrderInput(Input):
    """Textual's Input with every key taken in the order it was typed. Textual inserts a typed
    character as the Input receives it, but looks the Input's editing keys up among the bindings
    only once the key has come back up to the app, later: backspace then 3, typed fast, inserted
    the 3 and then deleted it. Here the Input's own bindings (backspace, arrows, home, enter...)
    act as the key reaches the Input, in turn with the characters."""

    _ACTIONS = {key.strip(): b.action for b in Input.BINDINGS if isinstance(b, Binding) for key in b.key.split(",")}

    async def _on_key(self, event: events.Key) -> None:
        action = self._ACTIONS.get(event.key)
        if action is None:
            return  # a character: Input's own handler inserts it (Textual calls it after this one)
        event.stop()
        event.prevent_default()  # Input's handler has nothing to do with it
        await self.run_action(action)


def while_open(screen: Screen, fn: Callable[..., Any], *args: Any, **kw: Any) -> None:
    """Call ``fn(*args, **kw)`` (on the main thread: give this to ``app.call_from_thread``) only
    while ``screen`` is still open. A background job's answer can arrive after its screen was
    closed, or while it closes (its widgets are removed before it): there is nothing to show
    then, and a lookup of a widget already gone must not end the app (a worker's error does)."""
    if not screen.is_attached or screen not in screen.app.screen_stack:
        return
    try:
        fn(*args, **kw)
    except NoMatches:  # closing under us: its widgets went first
        return


class TypeAhead(_ScreenMixin):
    """Keys typed right after the key that opens this screen belong to it. Textual handed each
    to the focused widget of the screen underneath, and by the time it came back up to the app
    this screen was on top and its bindings did not want it: "t 3 enter" lost its 3, "v enter"
    its enter. The app gives such a key to this screen instead (``take``), to its focused widget,
    at once or as soon as it has one."""

    _waiting: list[events.Key] | None = None

    def take(self, event: events.Key) -> None:
        """``event`` was typed for this screen: typed again, afresh, once the screen has its
        focus (the app then handles it as any key: the focused widget, then the bindings, so
        backspace and enter work as printable keys do), in the order the keys came."""
        if self._waiting is None:
            self._waiting = []
        if len(self._waiting) < 64:  # a burst held this long is not typing: the rest is dropped
            self._waiting.append(events.Key(event.key, event.character))
        self.call_after_refresh(self._give_waiting)

    def _give_waiting(self) -> None:
        if self.focused is None or not self._waiting:
            if self._waiting:
                self.call_after_refresh(self._give_waiting)  # not focused yet: on the next refresh
            return
        waiting, self._waiting = self._waiting, None
        for event in waiting:
            self.app.post_message(event)


class _Once(_ScreenMixin):
    """Dismiss at most once, and only while on top of the stack.

    Textual's ``Screen.dismiss`` pops whatever screen is on top (``App.pop_screen``), not
    necessarily this one, and ``Screen.is_current`` is also true for a screen merely visible
    under a translucent modal. A dialog's Enter arrives as a message (an option selected, an
    input submitted, a button pressed) that the dialog handles a few turns of the event loop
    later; a key in between (ctrl+p, a priority key) can push the palette over it first. The
    dialog then dismissed itself from under the palette: its callback ran, the palette was
    popped in its place, and the dialog stayed on top marked as dismissed, ignoring escape
    forever. So a dialog that is covered acts on nothing: its late Enter is dropped, it stays
    open and visible, and once it is on top again escape or Enter close it as usual. A second
    Enter (or Enter then Escape) before the screen is gone does nothing either."""

    _xor_dismissed = False

    def dismiss(self, result: Any = None) -> AwaitComplete:  # Any: each dialog's own result type
        if self._xor_dismissed or not _on_top(self):
            return AwaitComplete.nothing()
        self._xor_dismissed = True
        return super().dismiss(result)


class _Backdrop(Visual):
    """Strips already rendered: the screen under a dialog, tinted."""

    def __init__(self, strips: list[Strip]) -> None:
        self.strips = strips

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        return self.strips

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return container_width

    def get_height(self, rules: RulesMap, width: int) -> int:
        return len(self.strips)


# screen under a dialog -> (key: size, theme, the screen's version, the tint; its dimmed copy)
_BACKDROPS: WeakKeyDictionary[Screen[Any], tuple[tuple[Size, str, object, Color], _Backdrop]] = WeakKeyDictionary()


class _Dimmed(_ScreenMixin):
    """A dialog over the main screen shows it dimmed behind, as Textual's ModalScreen does,
    but composites and tints it once per size, theme and state of that screen (its
    ``version``, which MainScreen bumps on every redraw and resize), shared by the dialogs
    opened over it one after another, instead of on every refresh of every dialog: Textual
    redrew the whole screen under a dialog for each key typed into it, each resize and each
    focus change (~20 ms at 120x36, about a fifth of the time a dialog took)."""

    def on_resize(self) -> None:
        # once laid out at the new size, draw the scrollbars again: after a burst of resizes
        # (a window dragged) the help's thumb was seen drawn for an earlier size, under load
        self.call_after_refresh(self._redraw_scrollbars)

    def _redraw_scrollbars(self) -> None:
        for w in self.query("*"):
            if w.show_vertical_scrollbar:
                w.vertical_scrollbar.refresh()
            if w.show_horizontal_scrollbar:
                w.horizontal_scrollbar.refresh()

    # Screen.render is declared to return a rich renderable only; Widget.render's RenderResult
    # also allows a Visual, which Textual's Widget._render (visualize) takes as it is
    def render(self) -> RenderResult:  # type: ignore[override]
        drawn = super().render()
        if not isinstance(drawn, BackgroundScreen):
            return drawn
        base = drawn.screen
        laid_out = getattr(getattr(base, "_compositor", None), "size", None)
        if laid_out != self.size:  # resized, and the screen under it not yet laid out again: no copy
            _BACKDROPS.pop(base, None)
            return drawn
        key = (self.size, self.app.theme, getattr(base, "version", None), drawn.color)
        kept = _BACKDROPS.get(base)
        if kept is None or kept[0] != key:
            w, h = self.size
            kept = key, _Backdrop(Visual.to_strips(self, RichVisual(self, drawn), w, h, self.visual_style, pad=True))
            _BACKDROPS[base] = kept
        return kept[1]


def _on_top(screen: Screen[Any]) -> bool:
    """True when ``screen`` is the top of the app's screen stack (not merely visible)."""
    stack = screen.app.screen_stack
    return bool(stack) and stack[-1] is screen


class Palette(TypeAhead, _Once, _Dimmed, CommandPalette):
    """Textual's command palette, dismissed at most once. Its search worker may still report
    while the palette is being taken down (a burst of keys then escape); the list it would
    update is gone by then, so that late report is dropped instead of failing the app.
    Its command list keeps a minimum width: at a terminal a few columns wide Textual's
    OptionList measured its options at a width of zero or less and failed (ValueError)."""

    DEFAULT_CSS = "Palette CommandList { min-width: 12; }"

    def on_mount(self) -> None:
        from textual.command import SearchIcon

        self.query_one(SearchIcon).icon = ">"  # 🔎 is an empty box in a browser's fallback font

    def _watch__list_visible(self) -> None:
        try:
            super()._watch__list_visible()
        except NoMatches:
            if self.is_current and not self._xor_dismissed:
                raise


class PromptScreen(TypeAhead, _Once, _Dimmed, ModalScreen[str | None]):
    """Ask for one value; ``validate`` returns an error message or None. Bad input keeps
    the dialog open with the message, and nothing changes."""

    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, value: str = "", hint: str = "", validate: Callable[[str], str | None] | None = None
    ) -> None:
        super().__init__()
        self.title_text, self.value, self.hint = title, value, hint
        self.validate = validate or (lambda s: None)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, classes="title", markup=False)
            yield InOrderInput(self.value, id="value", select_on_focus=True)
            yield Static("", id="error", classes="error", markup=False)
            if self.hint:
                yield Static(self.hint, classes="hint", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value
        try:
            problem = self.validate(text)
        except Exception as exc:  # a validator must never take the app down
            problem = str(exc) or type(exc).__name__
        if problem:
            self.query_one("#error", Static).update(problem)
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(TypeAhead, _Once, _Dimmed, ModalScreen[str | None]):
    DEFAULT_CSS = DIALOG_CSS
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]], highlight: str | None = None) -> None:
        super().__init__()
        self.title_text, self.options, self.highlight = title, options, highlight

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.title_text, classes="title", markup=False)
            yield OptionList(*(Option(Text(text), id=key) for key, text in self.options))

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        keys = [k for k, _ in self.options]
        if self.highlight in keys:
            ol.highlighted = keys.index(self.highlight)
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(TypeAhead, _Once, _Dimmed, ModalScreen[bool]):
    """A yes/no question; No has the focus, so Enter (or Enter twice) never destroys anything."""

    DEFAULT_CSS = DIALOG_CSS
    AUTO_FOCUS = "#no"
    BINDINGS = [Binding("escape", "no", "No"), Binding("y", "yes", "Yes"), Binding("n", "no", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question, classes="title", markup=False)
            with Horizontal():
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class HelpScreen(TypeAhead, _Once, _Dimmed, ModalScreen[None]):
    DEFAULT_CSS = DIALOG_CSS + "#dialog { width: 90; }"
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        t = Table(box=None, show_header=False, pad_edge=False)
        t.add_column(style="bold cyan", no_wrap=True)
        t.add_column()
        for k, what in self.keys:
            t.add_row(Text(k), Text(what))  # Text, not markup: "[" and "h[j]" stay as they are
        with VerticalScroll(id="dialog"):
            yield Label(
                "xor-tui keys (escape closes; every action is also in the command palette, ctrl+p)",
                classes="title",
                markup=False,
            )
            yield Static(t, id="keys")
            yield Static(
                "\nColours: a neuron's four marks are its pre-activation on the rows (0,0) (0,1) (1,0) (1,1):"
                " ● green > 0 (active), ○ red < 0 (inactive), ◌ yellow exactly 0. A unit inactive on all four"
                " rows is DEAD (red border). h[j] is hidden unit j, h2[j] a unit of the second hidden layer,"
                " out the output; a box's bottom edge shows its bias. Connections: blue positive, orange"
                " negative weight, 1 to 4 dots thick by |w|; after a step, dashes run along every"
                " connection that carries gradient (faster for a larger gradient; solid lines when"
                " animation is off), dim dots where frozen.",
                classes="hint",
                markup=False,
            )

    def action_close(self) -> None:
        self.dismiss(None)
