"""The 研修 tab: what the staff console lacks at a training counter — the case and the
patient's situation, the patient's words with the phrases to answer (each a ``Say``),
the documents handed over (受け付ける / 受け付けない), the 会計's 負担割合 and 対応完了.
The trainee works the real console beside it (the ladder goes through the core on the
run's store); the patient plays on the reader panel (:class:`PatientAtReader`)."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from reception.checkin import CheckinOutcome
from reception.oqs_queries import NumberQuery
from reception.training.actions import (
    Accept,
    Action,
    Certificate,
    Charge,
    NoCard,
    Refuse,
    Say,
    WelfareOffice,
)
from reception.training.phrases import UTTERANCES
from reception.training.report import write_reports
from reception.training.run import CaseDesk
from reception.training.scenario import Document, Fault
from reception.tui.desk import CheckinDesk
from reception.tui.screens.number import NumberQueryScreen
from reception.tui.services import Demo
from reception.tui.text import plain, safe
from reception.tui.training import words
from reception.tui.training.feedback import FeedbackScreen, ReportScreen
from reception.tui.training.patient import PatientAtReader
from reception.tui.training.session import TrainingSession
from reception.tui.widgets.messages import ReceptionsChanged, ReportsFailedWorkers

SHOWN_LINES = 8  # the trainee's last actions kept on the tab
PATIENT_DID = "患者さんの動き: "


class TrainingPane(TabPane, ReportsFailedWorkers):
    DEFAULT_CSS = """
    TrainingPane #training-scroll { padding: 0 1; }
    TrainingPane #training-case { text-style: bold; background: $primary-darken-2; }
    TrainingPane .training-row { height: auto; }
    TrainingPane .training-row Button { margin-right: 1; min-width: 8; }
    TrainingPane .said { color: $warning; text-style: bold; margin-top: 1; }
    TrainingPane OptionList { height: auto; max-height: 12; }
    TrainingPane .doc { margin-top: 1; }
    TrainingPane #training-charge-label { margin-top: 1; }
    TrainingPane #training-settle { margin-top: 1; }
    """

    def __init__(self, session: TrainingSession, desk: CheckinDesk, demo: Demo) -> None:
        super().__init__("研修", id="tab-training")
        self.session = session
        self.desk = desk
        self.demo = demo
        self.case_desk: CaseDesk | None = None
        self.started = 0.0  # the wall clock (monotonic) when the case came up
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="training-scroll"):
            yield Static("", id="training-case")
            yield Static("", id="training-situation")
            yield Static("", id="training-patient")
            yield Vertical(id="training-says", classes="training-row")
            yield Vertical(id="training-documents", classes="training-row")
            with Horizontal(id="training-nocard", classes="training-row"):
                yield Button("資格確認書の番号で照会", id="training-certificate")
                yield Button("10割で受付（持参なし）", id="training-no-card")
            with Horizontal(classes="training-row"):
                yield Button("福祉事務所に医療券を依頼", id="training-welfare")
            yield Static("会計 — 負担割合:", id="training-charge-label")
            with Horizontal(id="training-charge", classes="training-row"):
                for ratio in words.RATIOS:
                    yield Button(f"{ratio}割", id=f"charge-{ratio}")
            yield Static("", id="training-done")
            yield Button("対応完了（F8）", id="training-settle", variant="success")
        yield PatientAtReader(self.desk, self.demo, self.session.pace)

    @property
    def patient(self) -> PatientAtReader:
        return self.query_one(PatientAtReader)

    @property
    def persona(self) -> str | None:
        """Whose card the case is about (the 居宅同意取得型 route places it)."""
        return self.case_desk.case.patient if self.case_desk is not None else None

    def on_mount(self) -> None:
        self.patient.did = self._patient_did
        self.desk.question_shown = self.patient.question
        self.call_after_refresh(self.next_case)

    async def on_unmount(self) -> None:
        self.desk.question_shown = None
        if self.session.closing is not None:
            await self.session.closing()

    # -- a case ----------------------------------------------------------------------

    async def next_case(self) -> None:
        """The next case comes to the counter (none left: the report)."""
        run = self.session.run
        desk = run.begin()
        if desk is None:
            self.finish()
            return
        self.case_desk, self.started, self.lines = desk, time.monotonic(), []
        persona = desk.persona
        count = len(run.scenario.cases)
        self.query_one("#training-case", Static).update(
            safe(f"研修 {desk.position + 1}/{count} ・ {desk.case.title}")
        )
        self.query_one("#training-situation", Static).update(
            safe(words.situation(desk.case, persona))
        )
        self.query_one("#training-patient", Static).update("")
        await self._show_words(desk)
        await self._show_documents(desk, persona)
        self.query_one("#training-nocard").display = not desk.case.situation.places_card
        self._show_charge(desk.outcome.ratio)
        self._show_done()
        self.app.query_one("#staff", TabbedContent).active = self.id or ""
        starts = desk.case.situation.places_card and desk.reception_id is None
        self.patient.come(desk.patient_script(), desk.case.patient, check_in=starts)

    async def _show_words(self, desk: CaseDesk) -> None:
        box = self.query_one("#training-says", Vertical)
        await box.remove_children()
        for uid in desk.case.situation.says:
            utterance = UTTERANCES[uid]
            said = Static(safe(f"患者さん「{utterance.text}」"), classes="said")
            chosen = desk.outcome.words.get(uid)
            phrase = utterance.phrase(chosen) if chosen else None
            if phrase is not None:
                await box.mount(said, Static(safe(f"答え: 「{phrase.text}」")))
                continue
            options = [
                Option(Text(f"{i}．{plain(p.text)}"), id=p.id)
                for i, p in enumerate(words.phrase_order(desk.case.id, utterance), start=1)
            ]
            await box.mount(said, OptionList(*options, id=f"say-{uid}"))

    async def _show_documents(self, desk: CaseDesk, persona: dict[str, Any]) -> None:
        box = self.query_one("#training-documents", Vertical)
        await box.remove_children()
        done = set(desk.outcome.accepted) | set(desk.outcome.refused)
        for doc in desk.case.situation.brings:
            line = words.document(doc, persona, desk.case.model.ratio)
            state = self._document_state(desk, doc)
            row = Horizontal(
                Button("受け付ける", id=f"accept-{doc.value}", classes="doc-accept"),
                Button("受け付けない", id=f"refuse-{doc.value}", classes="doc-refuse"),
                Static(state, id=f"state-{doc.value}"),
                classes="training-row",
            )
            await box.mount(Static(safe(f"提示: {line}"), classes="doc"), row)
            for button in row.query(Button):
                button.disabled = doc in done

    @staticmethod
    def _document_state(desk: CaseDesk, doc: Document) -> str:
        if doc in desk.outcome.accepted:
            return "→ 受け付けた"
        if doc in desk.outcome.refused:
            return "→ 受け付けなかった"
        return ""

    def _show_charge(self, ratio: int | None) -> None:
        for value in words.RATIOS:
            button = self.query_one(f"#charge-{value}", Button)
            button.variant = "primary" if value == ratio else "default"
        said = "未入力" if ratio is None else f"{ratio}割"
        self.query_one("#training-charge-label", Static).update(f"会計 — 負担割合: {said}")

    def _show_done(self) -> None:
        shown = self.lines[-SHOWN_LINES:]
        text = "\n".join(["対応:", *shown]) if shown else ""
        self.query_one("#training-done", Static).update(safe(text))

    def _patient_did(self, what: str) -> None:
        caption = self.query_one("#training-patient", Static)
        before = str(caption.render()).removeprefix(PATIENT_DID)
        steps = [*(before.split(" → ") if before else []), what][-6:]
        caption.update(safe(PATIENT_DID + " → ".join(steps)))

    # -- the check-in at the reader ----------------------------------------------------

    def checkin_finished(self, outcome: CheckinOutcome) -> None:
        """The patient's check-in made its reception: the case is about it."""
        desk = self.case_desk
        if desk is None:
            return
        desk.checked_in(outcome.reception_id)
        if desk.case.situation.fault is Fault.CONNECTION_LOST:
            desk.run.sim.fault(Fault.CONNECTION_LOST, False)  # the line comes back
        self.patient.checked_in()

    # -- the trainee's actions ---------------------------------------------------------

    @work(group="training", exit_on_error=False)
    async def act(self, action: Action, line: str) -> None:
        desk = self.case_desk
        if desk is None:
            return
        result = await desk.act(action)
        self.lines.append(f"{line} — {result}")
        self._show_done()
        self.post_message(ReceptionsChanged(desk.reception_id))

    @on(OptionList.OptionSelected)
    async def _said(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        uid = (event.option_list.id or "").removeprefix("say-")
        utterance = UTTERANCES.get(uid)
        phrase = utterance.phrase(event.option.id or "") if utterance else None
        if phrase is None:
            return
        answer = Static(safe(f"答え: 「{phrase.text}」"))
        await self.query_one("#training-says").mount(answer, after=event.option_list)
        await event.option_list.remove()
        self.act(Say(utterance=uid, phrase=phrase.id), "声かけ")

    @on(Button.Pressed, ".doc-accept, .doc-refuse")
    def _document(self, event: Button.Pressed) -> None:
        event.stop()
        kind, _, value = (event.button.id or "").partition("-")
        doc = Document(value)
        for button in event.button.parent.query(Button) if event.button.parent else []:
            button.disabled = True
        accepted = kind == "accept"
        state = "→ 受け付けた" if accepted else "→ 受け付けなかった"
        self.query_one(f"#state-{value}", Static).update(state)
        action = Accept(document=doc) if accepted else Refuse(document=doc)
        self.act(action, f"{doc.label}: {'受け付ける' if accepted else '受け付けない'}")

    @on(Button.Pressed, "#training-charge Button")
    def _charge(self, event: Button.Pressed) -> None:
        event.stop()
        ratio = int((event.button.id or "charge-0").removeprefix("charge-"))
        self._show_charge(ratio)
        self.act(Charge(ratio=ratio), f"会計 {ratio}割")

    @on(Button.Pressed, "#training-certificate")
    def _certificate(self, event: Button.Pressed) -> None:
        event.stop()

        def query(answer: NumberQuery | None) -> None:
            if answer is None:
                return
            action = Certificate(
                insurer_number=answer.insurer_number,
                symbol=answer.symbol,
                number=answer.number,
                branch=answer.branch,
                birth_date=answer.birth_date.isoformat(),
            )
            self.act(action, "資格確認書の番号で照会")

        heading = "研修: カードを持たない患者さん（照会で新しい受付になります）"
        self.app.push_screen(NumberQueryScreen(heading), query)

    @on(Button.Pressed, "#training-no-card")
    def _no_card(self, event: Button.Pressed) -> None:
        event.stop()
        self.act(NoCard(), "10割で受付（持参なし）")

    @on(Button.Pressed, "#training-welfare")
    def _welfare(self, event: Button.Pressed) -> None:
        event.stop()
        self.act(WelfareOffice(), "福祉事務所に医療券を依頼")

    # -- settling ------------------------------------------------------------------------

    @on(Button.Pressed, "#training-settle")
    def _settle_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.settle()

    def settle(self) -> None:
        """対応完了: the case is scored (seconds from its arrival, on the wall clock) and
        its feedback shown; 次へ brings the next patient."""
        desk = self.case_desk
        if desk is None:
            return
        if self.desk.running or self.desk.placing:  # a card on its way or being read
            self.notify(
                "読み取りの途中です。終わってから対応完了にしてください", severity="warning"
            )
            return
        seconds = time.monotonic() - self.started
        self.patient.leave()
        score = desk.settle(seconds)
        self.case_desk = None
        count = len(self.session.run.scenario.cases)
        screen = FeedbackScreen(score, desk.position + 1, count)

        def after(_next: bool | None) -> None:
            self.call_later(self.next_case)

        self.app.push_screen(screen, after)

    def finish(self) -> None:
        """Every case settled: the report, saved as HTML and CSV in the run's folder."""
        report = self.session.run.finish()
        saved: tuple[str, str] | str
        try:
            html, csv = write_reports(report, self.session.folder)
            saved = (str(html), str(csv))
        except OSError as exc:
            saved = f"報告を保存できませんでした（{self.session.folder}）: {exc}"
        self.app.push_screen(ReportScreen(report, saved), lambda _closed: self.app.exit())
