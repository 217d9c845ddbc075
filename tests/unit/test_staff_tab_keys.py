"""The staff tabs' keys as the keys panel (Ctrl+P 「Keys」) lists them: each Alt+N with its
tab, never Textual's name of the macOS Option character (「alt+2 trade_mark_sign」)."""

from __future__ import annotations

from reception.tui.widgets.tabs import STAFF_TAB_BINDINGS


def test_every_tab_key_reads_alt_n_with_its_tab() -> None:
    for n, binding in enumerate(STAFF_TAB_BINDINGS, start=1):
        assert binding.key_display == ("Alt+1〜9" if n == 1 else f"Alt+{n}")
        assert binding.description.startswith("タブ")
        assert binding.show is (n == 1)  # the footer shows one line for all nine
