"""The question widgets on their own (reception/tui/widgets/questions.py, pin.py): each
posts its typed message for buttons and keys alike, and both the patient's reader panel
and the staff-held counter screen compose them (issue 21 §1)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual import on
from textual.app import App, ComposeResult
from textual.message import Message
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, RadioButton

from mock_oqs.world import World
from reception.camera import FaceScenario
from reception.flow import ConsentsGiven, Method, Prescription, Route, open_items
from reception.questions import GiveConsents, YesNoKind
from reception.tui.app import ReceptionApp
from reception.tui.screens.counter import CounterScreen
from reception.tui.widgets.pin import PinField, PinPad
from reception.tui.widgets.questions import (
    ConsentChoice,
    ConsentItems,
    FaceCapture,
    MethodChoice,
    PrescriptionChoice,
    YesNoChoice,
)
from tests.support.tui import drive, services, shown, text, until

TEXTS = {
    "tries": "残り{n}回",
    "pin": "暗証番号",
    "ok": "確定",
    "back": "戻る",
    "pin_short": "4桁を入力してください",
}


def t(key: str, **kwargs: object) -> str:
    return TEXTS.get(key, key).format(**kwargs)


class Host(App[None]):
    """One widget on a screen; what it posts is kept in ``posted``."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.widget = widget
        self.posted: list[Message] = []

    def compose(self) -> ComposeResult:
        yield self.widget

    @on(MethodChoice.Chosen)
    @on(ConsentChoice.Chosen)
    @on(ConsentChoice.OneByOne)
    @on(ConsentItems.Chosen)
    @on(PrescriptionChoice.Chosen)
    @on(YesNoChoice.Answered)
    @on(FaceCapture.Shot)
    @on(PinPad.Entered)
    @on(PinPad.Left)
    @on(PinField.Entered)
    @on(PinField.Malformed)
    def _kept(self, message: Message) -> None:
        self.posted.append(message)


def hosting(widget: Widget, scenario: Callable[[Pilot[None], Host], Awaitable[None]]) -> Host:
    host = Host(widget)

    async def go() -> None:
        async with host.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await scenario(pilot, host)

    asyncio.run(go())
    return host


def test_the_pin_pad_posts_four_digits_once_and_keeps_nothing_on_screen() -> None:
    async def scenario(pilot: Pilot[None], host: Host) -> None:
        pad = host.query_one(PinPad)
        pad.retext(t)
        pad.open(3, "")
        await pilot.pause()
        assert text(host, "#pin-tries") == "残り3回"
        for key in ("1", "2", "3", "enter"):
            pad.key(key)
        await pilot.pause()
        assert host.posted == [] and "4桁" in text(host, "#pin-message")
        assert text(host, "#pin-dots") == "● ● ● ○"
        host.query_one("#pin-9", Button).press()
        await pilot.pause()
        host.query_one("#pin-ok", Button).press()
        await pilot.pause()
        assert text(host, "#pin-dots") == "○ ○ ○ ○" and pad.digits == ""
        assert not pad.key("x")  # not the pad's
        host.query_one("#pin-back", Button).press()
        await pilot.pause()

    host = hosting(PinPad(), scenario)
    entered, left = host.posted
    assert isinstance(entered, PinPad.Entered) and entered.pin == "1239"
    assert isinstance(left, PinPad.Left)
    assert "1239" not in repr(entered)


def test_the_pin_field_sends_only_four_ascii_digits_and_empties_itself() -> None:
    async def scenario(pilot: Pilot[None], host: Host) -> None:
        field = host.query_one("#counter-pin-input", Input)
        for typed in ("12", "１２３４", "4321"):
            field.value = typed
            host.query_one("#counter-pin-ok", Button).press()
            await pilot.pause()
            await pilot.pause()
            assert field.value == ""

    host = hosting(PinField(prefix="counter-pin", id="counter-pin"), scenario)
    kinds = [type(m) for m in host.posted]
    assert kinds == [PinField.Malformed, PinField.Malformed, PinField.Entered]
    entered = host.posted[-1]
    assert isinstance(entered, PinField.Entered) and entered.pin == "4321"


def test_a_method_choice_offers_only_the_questions_methods() -> None:
    async def scenario(pilot: Pilot[None], host: Host) -> None:
        choice = host.query_one(MethodChoice)
        first = choice.offer((Method.FACE, Method.VISUAL))
        assert first is not None and first.id == "m-face"
        await pilot.pause()
        assert not choice.key("2")  # PIN: not offered on this card
        assert choice.key("3") and choice.key("escape")
        host.query_one("#m-face", Button).press()
        await pilot.pause()

    widget = MethodChoice(
        (Method.FACE, Method.PIN, Method.VISUAL), prefix="m", id="methods", cancel="やめる"
    )
    host = hosting(widget, scenario)
    chosen = [m.method for m in host.posted if isinstance(m, MethodChoice.Chosen)]
    assert chosen == [Method.VISUAL, None, Method.FACE]


def test_bundle_consent_is_what_the_question_asks_about() -> None:
    """At the counter まとめて同意 is 診療・薬剤 and 特定健診, never 手術 (design.md §6.9)."""

    async def scenario(pilot: Pilot[None], host: Host) -> None:
        choice = host.query_one(ConsentChoice)
        choice.question = GiveConsents(open_items(Route.COUNTER, None))
        host.query_one("#c-bundle", Button).press()
        await pilot.pause()
        assert choice.key("n") and not choice.key("1")
        choice.question = GiveConsents(open_items(Route.READER, Method.PIN))
        assert choice.key("y")
        host.query_one("#c-each", Button).press()
        await pilot.pause()

    host = hosting(ConsentChoice(prefix="c", id="choices"), scenario)
    given = [m.consents for m in host.posted if isinstance(m, ConsentChoice.Chosen)]
    assert given == [
        ConsentsGiven(medication=True, checkup=True),
        ConsentsGiven(),
        ConsentsGiven(medication=True, checkup=True, operation=True),
    ]
    assert isinstance(host.posted[-1], ConsentChoice.OneByOne)


def test_consent_items_one_by_one_and_the_pre_2024_limit_question() -> None:
    async def scenario(pilot: Pilot[None], host: Host) -> None:
        items = host.query_one(ConsentItems)
        items.reset(pre_2024=False)
        await pilot.pause()
        assert not shown(host, "#consent-limit") and not shown(host, "#consent-all")
        host.query_one("#consent-checkup", Checkbox).value = True
        host.query_one("#consent-ok", Button).press()
        await pilot.pause()
        items.reset(pre_2024=True)
        await pilot.pause()
        assert shown(host, "#consent-limit")
        host.query_one("#limit-yes", RadioButton).value = True
        assert items.key("y")
        await pilot.pause()

    host = hosting(ConsentItems(id="items"), scenario)
    given = [m.consents for m in host.posted if isinstance(m, ConsentItems.Chosen)]
    assert given == [
        ConsentsGiven(checkup=True),
        ConsentsGiven(medication=True, checkup=True, operation=True, limit=True),
    ]


def test_prescription_yes_no_and_face_post_their_answers() -> None:
    async def scenario(pilot: Pilot[None], host: Host) -> None:
        rx = host.query_one(PrescriptionChoice)
        assert rx.key("2") and not rx.key("3")
        host.query_one("#rx-1", Button).press()
        await pilot.pause()
        yes_no = host.query_one(YesNoChoice)
        yes_no.retext(t)
        assert yes_no.key("y") and not yes_no.key("2")
        await pilot.pause()
        host.query_one("#subsidy-no", Button).press()
        await pilot.pause()
        host.query_one("#subsidy-yes", Button).press()
        await pilot.pause()
        host.query_one("#scenario-other", RadioButton).value = True
        host.query_one("#face-shoot", Button).press()
        await pilot.pause()
        host.query_one("#face-back", Button).press()
        await pilot.pause()

    class Three(Widget):
        DEFAULT_CSS = "Three { layout: vertical; }"

        def compose(self) -> ComposeResult:
            yield PrescriptionChoice(prefix="rx", id="rx")
            yield YesNoChoice(YesNoKind.SUBSIDY)
            yield FaceCapture(demo=True)

    host = hosting(Three(), scenario)
    answers = [
        m.prescription
        if isinstance(m, PrescriptionChoice.Chosen)
        else (m.kind, m.yes)
        if isinstance(m, YesNoChoice.Answered)
        else m.scenario
        if isinstance(m, FaceCapture.Shot)
        else m
        for m in host.posted
    ]
    assert answers == [
        Prescription.PAPER,
        Prescription.ELECTRONIC,
        (YesNoKind.SUBSIDY, True),
        (YesNoKind.SUBSIDY, False),
        (YesNoKind.SUBSIDY, True),
        FaceScenario.OTHER,
        None,
    ]


def test_the_reader_panel_and_the_counter_screen_compose_the_same_widgets(
    tui_world: World, tmp_path: Path
) -> None:
    svc = services(tui_world, tmp_path)

    async def scenario(pilot: Pilot[None], app: ReceptionApp) -> None:
        await until(pilot, lambda: app.panel.warmed)
        pending = svc.store.begin_reception()  # the route settles a pending reception
        svc.store.finish_reception(pending, status="pending", reason="カードリーダーの障害")
        app.push_screen(CounterScreen(svc, app.client, pending, None))
        await until(pilot, lambda: isinstance(app.screen, CounterScreen))
        for widget in (MethodChoice, ConsentChoice, PrescriptionChoice):
            assert len(app.panel.query(widget)) == 1, widget
            assert len(app.screen.query(widget)) == 1, widget
        assert "職員の読み取り機" in text(app.screen, "#counter-status")
        app.screen.query_one("#counter-close", Button).press()

    asyncio.run(drive(svc, scenario))
