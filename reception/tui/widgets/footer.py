"""The keys line at the bottom of the terminal's screens: Textual's ``Footer``, drawn anew
only when the keys it shows change.

Textual's footer removes and mounts all its keys again whenever the screen *may* have
other bindings — every focus change, a screen shown or gone, the app focused: some
thirty times a check-in at a 研修 desk, each a layout of the whole screen. In a training
room (issue 26 §2: 40 desks on two cores) that was a third of a desk's CPU during a
check-in and most of its slowest key-to-screen times. This footer looks at what it would
show (the keys, their labels, whether each is enabled) and recomposes only when that
changed — the same line, drawn when it has to be.
"""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """A Footer that recomposes only when the keys it would show changed."""

    _shown: tuple[object, ...] | None = None

    def _keys(self, screen: Screen[Any]) -> tuple[object, ...]:
        app = screen.app
        keys = tuple(
            (
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                binding.show,
                binding.group,
                enabled,
                tooltip,
            )
            for _node, binding, enabled, tooltip in screen.active_bindings.values()
        )
        return (app.app_focus, keys)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        keys = self._keys(screen)
        if keys == self._shown:
            return
        self._shown = keys
        super().bindings_changed(screen)
