"""Textual's Footer, rebuilt only when what it shows changes."""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeyFooter(Footer):
    """Textual's Footer rebuilds all its keys (some twenty widgets, each styled anew, ~70 ms
    of CPU at 120x36) on every bindings refresh: each focus change, dialog opened or closed,
    and twice per background run (keys dim while it runs). This one rebuilds only when the
    keys it would show, their labels or whether they are enabled have changed."""

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
