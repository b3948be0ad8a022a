"""Textual's Footer, rebuilt only when what it shows changes."""

from __future__ import annotations

from rich.cells import cell_len
from textual.message import Message
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeyFooter(Footer):
    """Textual's Footer rebuilds all its keys (some twenty widgets, each styled anew, ~70 ms
    of CPU at 120x36) on every bindings refresh: each focus change, dialog opened or closed,
    and twice per background run (keys dim while it runs). This one rebuilds only when the
    keys it would show, their labels or whether they are enabled have changed."""

    class Fitted(Message):
        """Which keys fit changed (the footer's width did): a copy of the screen kept by a
        dialog over it is out of date."""

    _shown: tuple | None = None
    _rebuilding = False  # a rebuild is asked for and has not run yet

    def _signature(self, screen) -> tuple:
        app = self.app
        return (
            app.ENABLE_COMMAND_PALETTE,
            self.show_command_palette,
            tuple(  # what compose shows: the bindings marked show, and the palette's own key
                (b.key, b.action, b.description, b.group, enabled, tooltip, app.get_key_display(b))
                for key, (_, b, enabled, tooltip) in screen.active_bindings.items()
                if b.show or key == app.COMMAND_PALETTE_BINDING
            ),
        )

    def bindings_changed(self, screen) -> None:
        # compared with what the footer shows (noted when it was built, not when a rebuild was
        # asked for: one asked for before a run dimmed the keys ran after, and the run's end,
        # which matched the note, left them dimmed for good)
        # A rebuild already asked for reads the bindings when it runs: no second one (at start
        # the bindings change several times before the first rebuild runs: ~7 rebuilds an app)
        here = screen.app.app_focus and self.is_attached and screen is self.screen
        if here and self._bindings_ready and (self._rebuilding or self._signature(screen) == self._shown):
            return
        if self._shown is None and not self._rebuilding and self.is_attached and screen is self.screen:
            # the first build even without the app's focus: Textual's footer waits for it, and a
            # page served by `xor-tui serve` has none until its first key (a blank footer till then)
            self._bindings_ready = self._rebuilding = True
            self.call_after_refresh(self.recompose)
            return
        self._rebuilding = bool(here)
        super().bindings_changed(screen)

    def compose(self):
        # A FooterKey starts compact and is styled so on mounting, then the footer's own
        # compact (False) is bound into it and it is styled again: two style passes per key,
        # ~40 per footer built (~10% of an app's start). Given the footer's value first,
        # mounting changes nothing. (The palette's key is not bound: it stays compact.)
        self._rebuilding = False
        if self._bindings_ready:
            self._shown = self._signature(self.screen)
        for widget in super().compose():
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
            yield widget
        self.call_after_refresh(lambda: self.fit(self.size.width))

    def on_resize(self) -> None:
        self.fit(self.size.width)

    def fit(self, width: int) -> None:
        """Show the keys that fit whole in ``width`` columns, in their order; the rest are
        hidden, not cut ("s Res" at 80 columns). A key is as wide as its label and
        description and three spaces (compact: one), which is what FooterKey draws. The
        palette's key keeps its place unless the footer is ``narrow`` (app.tcss hides it).
        MainScreen calls it as it is resized, so that the new layout already has it."""
        keys = list(self.query(FooterKey))
        room = width
        if not self.has_class("narrow"):
            room -= sum(_width(key) for key in keys if key.has_class("-command-palette"))
        used, fits, changed = 0, True, False
        for key in keys:
            if key.has_class("-command-palette"):
                continue
            fits = fits and used + _width(key) <= room
            if key.display != fits:
                key.display, changed = fits, True
            used += _width(key) if fits else 0
        if changed:
            self.post_message(self.Fitted())


def _width(key: FooterKey) -> int:
    pad = 1 if key.has_class("-compact") else 3
    return cell_len(key.key_display) + cell_len(key.description) + pad
