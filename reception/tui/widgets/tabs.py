"""Keys for the staff console's tabs: Alt+1 the first tab (受付一覧), Alt+2 the second
(詳細・代替手段), and so on in the order the tabs stand — by keyboard alone, wherever the
focus is (issue 22 §4). The footer shows one entry for them all.

Most terminals send Alt+1 as ESC 1, and Textual 8.2.8 reads ESC 1 as the character macOS
types with Option+1 (「¡」: textual/_ansi_sequences.py maps ``"\x1b1": "¡"`` … ``"\x1b9":
"ª"`` for WezTerm on macOS), so a binding of ``alt+1`` alone is never heard there: each
tab's key is bound both as ``alt+N`` (terminals that report modifiers, the kitty keyboard
protocol) and as the key Textual names that character."""

from __future__ import annotations

import unicodedata

from textual.binding import Binding
from textual.widgets import ContentSwitcher, TabbedContent, TabPane

TAB_KEYS = 9
OPTION_DIGITS = "¡™£¢∞§¶•ª"  # what Textual reads for ESC 1 … ESC 9


def _key_name(character: str) -> str:
    """Textual's name for a key that types ``character`` (its Unicode name, lower case,
    words joined by ``_``)."""
    return unicodedata.name(character).lower().replace("-", "_").replace(" ", "_")


STAFF_TAB_BINDINGS = [
    Binding(
        f"alt+{n},{_key_name(OPTION_DIGITS[n - 1])}",
        f"staff_tab({n})",
        "タブ" if n == 1 else f"タブ {n}",
        show=n == 1,
        # the keys panel lists every binding: without these, 「alt+2 trade_mark_sign」
        key_display="Alt+1〜9" if n == 1 else f"Alt+{n}",
        id=f"staff-tab-{n}",
        priority=True,  # also from a text field (the filter, a form)
    )
    for n in range(1, TAB_KEYS + 1)
]
"""The app's bindings (``action_staff_tab``): alt+1 … alt+9."""


def show_staff_tab(tabs: TabbedContent, number: int) -> bool:
    """Bring the ``number``-th tab (from 1) forward; False when there is no such tab."""
    switcher = tabs.get_child_by_type(ContentSwitcher)
    panes = [pane for pane in switcher.children if isinstance(pane, TabPane)]
    if not 1 <= number <= len(panes):
        return False
    pane_id = panes[number - 1].id
    assert pane_id is not None
    focused = tabs.screen.focused
    if pane_id != tabs.active and focused is not None and tabs in focused.ancestors:
        # hidden with its pane, the focused widget would hand the focus to a sibling
        # there, and focus in a pane brings it back (TabPane.Focused): let go first
        tabs.screen.set_focus(None)
    tabs.active = pane_id
    return True
