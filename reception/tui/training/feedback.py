"""Right after a case: its feedback (each item ✓/✗ with what was expected and what was
done, the mistakes and why, the explanation and its source; 次へ). At the end: the
report (the cases with points and time, the mistakes, the total, where the HTML and CSV
were saved)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, DataTable, Static

from reception.training.scoring import CaseScore, RunReport
from reception.tui.text import plain, safe
from reception.tui.training import words
from reception.tui.widgets.footer import KeysFooter

CSS = """
{name} #{prefix}-scroll {{ padding: 1 2 0 2; height: 1fr; }}
{name} .title {{ text-style: bold; background: $primary-darken-2; }}
{name} .heading {{ text-style: bold; margin-top: 1; }}
{name} .ok {{ color: $success; }}
{name} .ng {{ color: $error; }}
{name} .buttons {{ height: auto; padding: 0 2; }}
{name} DataTable {{ height: auto; max-height: 16; }}
"""


class FeedbackScreen(Screen[bool]):
    """One case's score; 次へ (Enter, n) dismisses it."""

    DEFAULT_CSS = CSS.format(name="FeedbackScreen", prefix="feedback")
    BINDINGS = [
        Binding("n", "next", "次へ", id="feedback-next"),
        Binding("escape", "next", "次へ", show=False, id="feedback-escape"),
    ]

    def __init__(self, score: CaseScore, position: int, count: int) -> None:
        super().__init__()
        self.score = score
        self.position = position
        self.count = count

    def compose(self) -> ComposeResult:
        s = self.score
        with VerticalScroll(id="feedback-scroll"):
            yield Static(
                safe(
                    f"研修 {self.position}/{self.count} ・ {s.title} — "
                    f"{s.total}/{s.max} 点（{s.percent:.0f} %） ・ {words.minutes(s.seconds)}"
                ),
                classes="title",
                id="feedback-title",
            )
            yield Static("採点", classes="heading")
            for i, (ok, line) in enumerate(words.score_lines(s)):
                yield Static(safe(line), classes="ok" if ok else "ng", id=f"feedback-item-{i}")
            yield Static("誤り", classes="heading")
            lines = words.mistake_lines(s)
            yield Static(
                safe("\n".join(lines) or "なし"),
                classes="ng" if lines else "ok",
                id="feedback-mistakes",
            )
            yield Static("解説", classes="heading")
            yield Static(safe(s.explain), id="feedback-explain")
            yield Static(safe(f"出典: {s.source}"), id="feedback-source")
        with Horizontal(classes="buttons"):  # outside the scroll: the text opens at its top
            last = self.position >= self.count
            yield Button("報告へ" if last else "次へ", id="feedback-next", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#feedback-next", Button).focus()

    @on(Button.Pressed, "#feedback-next")
    def action_next(self) -> None:
        self.dismiss(True)


class ReportScreen(Screen[bool]):
    """The run's report; 閉じる (Enter, q) ends the run's terminal. ``saved``: the HTML
    and CSV files' paths, or why they could not be written."""

    DEFAULT_CSS = CSS.format(name="ReportScreen", prefix="report")
    BINDINGS = [
        Binding("q", "close", "閉じる", id="report-close"),
        Binding("escape", "close", "閉じる", show=False, id="report-escape"),
    ]

    def __init__(self, report: RunReport, saved: tuple[str, str] | str) -> None:
        super().__init__()
        self.report = report
        self.saved = saved

    def compose(self) -> ComposeResult:
        r = self.report
        with VerticalScroll(id="report-scroll"):
            yield Static(
                safe(f"研修報告（研修用） ・ {r.scenario_title} ・ {r.trainee} ・ {r.day}"),
                classes="title",
                id="report-title",
            )
            yield DataTable(id="report-table", cursor_type="row", zebra_stripes=True)
            yield Static(
                f"合計 {r.total}/{r.max} 点（{r.percent:.0f} %） ・ "
                f"{len(r.cases)}/{r.case_count} 件",
                classes="heading",
                id="report-total",
            )
            yield Static("誤り", classes="heading")
            lines = [f"{c.case_id}: {line}" for c in r.cases for line in words.mistake_lines(c)]
            yield Static(safe("\n".join(lines) or "なし"), id="report-mistakes")
            if isinstance(self.saved, tuple):
                html, csv = self.saved
                said = f"報告を保存しました:\n  {html}\n  {csv}"
            else:
                said = self.saved
            yield Static(safe(said), classes="heading", id="report-saved")
        with Horizontal(classes="buttons"):
            yield Button("閉じる", id="report-done", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("事例", "題", "点", "時間", "誤り")
        for c in self.report.cases:
            mistakes = "、".join(m.label for m in c.mistakes) or "なし"
            table.add_row(
                Text(plain(c.case_id)),
                Text(plain(c.title)),
                Text(f"{'✓' if c.total == c.max else '✗'} {c.total}/{c.max}"),
                Text(words.minutes(c.seconds)),
                Text(plain(mistakes)),
            )
        self.query_one("#report-done", Button).focus()

    @on(Button.Pressed, "#report-done")
    def action_close(self) -> None:
        self.dismiss(True)
