"""``reception checkin``: one check-in, headless."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reception.camera import FaceScenario
from reception.cli.common import (
    EXIT_CODES,
    EXIT_ERROR,
    Session,
    UsageError,
    _err,
    _print,
    _print_json,
)
from reception.flow import (
    REGISTRATION_OPEN,
    ConsentsGiven,
    Method,
    Prescription,
    Route,
    State,
    open_items,
)
from reception.home_visit.mode import refuse_consents
from reception.vocabulary import NAMED_CONSENTS

# What a command needs is imported by the command: `reception --help` and the quick
# commands start without the HTTP client, the card stack, the PDF or the settings machinery.
if TYPE_CHECKING:
    from reader.transport import Transport
    from reception.checkin import CheckinOutcome
    from reception.settings import ReceptionSettings

CONSENT_ITEMS = NAMED_CONSENTS

PRESCRIPTION_CHOICES = {"electronic": Prescription.ELECTRONIC, "paper": Prescription.PAPER}


def _consents(text: str | None) -> frozenset[str]:
    """The items of ``--consent`` as named (``all``: まとめて同意, whatever the route offers)."""
    if not text:
        return frozenset()
    items = {part.strip() for part in text.split(",") if part.strip()}
    unknown = items - set(CONSENT_ITEMS) - {"all"}
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown consent {', '.join(sorted(unknown))}; use {', '.join(CONSENT_ITEMS)} or all"
        )
    return frozenset(items)


def _asked(
    args: argparse.Namespace, route: Route, method: Method, settings: ReceptionSettings
) -> ConsentsGiven:
    """What the headless patient agrees to — refused up front, before a reception begins,
    where the route or method does not offer it (design.md §6.9; reception/flow.py
    OPEN_ITEMS): 保険証利用登録 after 目視 or on the 居宅同意取得型 route, 手術情報 on that
    route, the 受給者証 by card after 目視 or on that route; and what this clinic's reader
    does not ask (:func:`_reader_allows`)."""
    refuse_consents(settings.mode, bool(args.consent or args.subsidies))  # 資格確認限定型: none
    _reader_allows(args, settings, route)
    opened = open_items(route, method)
    if args.register and (route, method) not in REGISTRATION_OPEN:
        if route is Route.COUNTER:
            raise UsageError(
                "--register: 居宅同意取得型では保険証利用登録はできません（顔認証付きカード"
                "リーダーかマイナポータルで登録してください）"
            )
        raise UsageError(
            "--register: 保険証利用登録は本人が暗証番号か顔認証で確認したときだけです"
            "（目視確認では登録できません）: --method pin か face にしてください"
        )
    if args.subsidies and "subsidies" not in opened:
        raise UsageError(
            "--subsidies: 目視確認や居宅同意取得型では医療費助成の受給者証をカードで使えません"
            "（紙の受給者証を確認してください）"
        )
    named = set(args.consent)
    if "all" in named:  # まとめて同意: every item this route and method offer
        named = (named - {"all"}) | (set(CONSENT_ITEMS) & opened)
    closed = named - opened
    if closed:
        raise UsageError(
            f"--consent {','.join(sorted(closed))}: 居宅同意取得型で同意できるのは診療情報・"
            "薬剤情報（medication）と特定健診情報（checkup）です"
        )
    return ConsentsGiven(
        medication="medication" in named,
        checkup="checkup" in named,
        operation="operation" in named,
        limit="limit" in named,
    )


def _reader_allows(args: argparse.Namespace, settings: ReceptionSettings, route: Route) -> None:
    """What this clinic's reader does not ask is refused before a reception begins
    (reception/reader_models.py): 目視 on a model without it, a 処方箋 answer where the
    question is off."""
    from reception.reader_models import NO_VISUAL_MESSAGE

    reader = settings.reader
    if route is Route.READER:  # the reader's notes (the 居宅同意取得型 route has its own)
        for note in reader.notes():  # each fine on its own: said, not refused
            _err(f"reception: {note}")
    if (
        route is Route.READER
        and args.method == Method.VISUAL.value
        and not reader.model.visual_check
    ):
        raise UsageError(f"--method visual: {NO_VISUAL_MESSAGE}（--route counter か代替手段）")
    if args.prescription and not reader.prescription.asked:
        raise UsageError(
            f"--prescription {args.prescription}: この医療機関の読み取り機は処方箋を聞きません"
            "（reader.prescription = off / RECEPTION_READER__PRESCRIPTION）: outside か inside "
            "にするか、--prescription を外してください"
        )


# -- transports ---------------------------------------------------------------------------


@contextlib.contextmanager
def card_transport(
    args: argparse.Namespace, settings: ReceptionSettings, card_path: Path | None
) -> Iterator[Transport]:
    """The reader for one check-in: the configured PC/SC reader with the patient's card,
    or — with ``--world --persona`` — the persona's virtual card (the simulator), served
    into vpcd's ``--slot`` (or in process); with ``--reader`` too, the card already in
    that reader, which must be the persona's (checked by the check-in)."""
    from reader.pcsc import PcscTransport
    from reception.settings import TransportKind

    kind = TransportKind(args.transport or settings.reader.transport)
    if card_path is not None and args.reader:
        if kind is TransportKind.LOOPBACK:
            raise UsageError(
                "--reader names a PC/SC reader holding the persona's card: not with "
                "--transport loopback"
            )
        card_path = None  # not served: the card is in the reader already
    if card_path is not None:
        from reception.sim.cards import persona_transport  # only the simulator loads it

        with persona_transport(
            card_path, loopback=kind is TransportKind.LOOPBACK, slot=args.slot, wait=args.wait
        ) as transport:
            yield transport
        return
    if kind is TransportKind.LOOPBACK:
        raise UsageError("--transport loopback needs a virtual card: --world and --persona")
    reader = args.reader or settings.reader.name
    # a next-generation reader reads the phone itself: the card reader (reader_models.py)
    if args.medium == "phone" and not args.reader and not settings.reader.model.reads_phones:
        if settings.reader.phone_name is None:
            raise UsageError(
                "--medium phone: no reader for smartphones configured "
                "(reader.phone_name / RECEPTION_READER__PHONE_NAME), or give --reader"
            )
        reader = settings.reader.phone_name
    transport = PcscTransport(
        reader, wait_seconds=args.wait, deadline=settings.reader.answer_timeout
    )
    try:
        yield transport
    finally:
        transport.close()


def _pin_source(args: argparse.Namespace) -> Any:
    from reader.pin import PinEntryUnavailable, ask_pin
    from reception.checkin import CheckinCancelled

    def source(tries_left: int) -> str:
        try:
            return ask_pin(tries_left, from_stdin=args.pin_stdin)
        except PinEntryUnavailable as exc:
            raise CheckinCancelled(str(exc)) from None

    return source


def cmd_checkin(args: argparse.Namespace, session: Session) -> int:
    from reader.jpki import ReadMode
    from reader.transport import TracingTransport
    from reception.checkin import CheckinRequest, ExpectedCard, check_in, open_card
    from reception.reverify import describe, reverify_pending

    settings = session.settings
    world = session.world
    card_path = world.card(args.persona) if world and args.persona else None
    if args.persona and world is None:
        raise UsageError("--persona needs --world")
    expected = (
        ExpectedCard(world.certificate_sha256(args.persona), args.persona)
        if world is not None and args.persona and world.other_card(args.persona) is None
        else None  # an other card (a transit card …) has no certificate to expect
    )
    route = Route(args.route)
    if route is Route.COUNTER and args.method == Method.FACE.value:
        raise UsageError("居宅同意取得型にはカメラがありません: --method pin か visual です")
    if args.reception and route is not Route.COUNTER:
        raise UsageError("--reception settles a pending reception by --route counter")
    store = session.store
    if args.reception:  # one the ladder settled takes no check-in: refused before the card
        from reception.ladder import check_target

        _err(check_target(store, args.reception).heading())
    terminal = session.terminal
    consents = _asked(args, route, Method(args.method), settings)
    request = CheckinRequest(
        Method(args.method),
        route=route,
        resume=args.reception,
        pin_source=_pin_source(args),
        face=FaceScenario(args.face),
        consents=consents,
        prescription=PRESCRIPTION_CHOICES[args.prescription] if args.prescription else None,
        staff=args.staff,
        seed=args.seed,
        register=args.register,
        subsidies=args.subsidies,
        expected=expected,
    )
    read_mode = (
        ReadMode.EXTENDED if args.extended or settings.reader.extended_length else (ReadMode.SHORT)
    )
    with contextlib.ExitStack() as stack:
        trace = stack.enter_context(open(args.trace, "a", encoding="utf-8")) if args.trace else None
        client = stack.enter_context(session.oqs())
        # a card that does not let itself be connected in time ends the check-in as a
        # card fault, recorded like one that goes silent at its first command
        transport = open_card(
            lambda: stack.enter_context(card_transport(args, settings, card_path))
        )
        if trace is not None:
            transport = TracingTransport(transport, trace)

        async def go() -> CheckinOutcome:
            async with client:
                outcome = await check_in(
                    transport,
                    client,
                    store,
                    terminal,
                    request,
                    face=settings.face,
                    face_folder=settings.link.face_folder,
                    face_privacy=settings.link.privacy,
                    read_mode=read_mode,
                    rules=settings.counter_rules(),
                    deadline=settings.reader.answer_timeout,
                )
                if outcome.result is not None and store.pending():
                    summary = await reverify_pending(client, store)  # the service answers
                    if summary.checked:
                        _err(describe(summary))
                return outcome

        outcome = asyncio.run(go())
    _report(outcome, args.json)
    return EXIT_CODES.get(outcome.state, EXIT_ERROR)


def _report(outcome: CheckinOutcome, as_json: bool) -> None:
    from reception.present import LADDER_HINT, OUTCOME_SENTENCES, qualification_lines, the_entry

    flow = outcome.flow
    result = outcome.result
    entry = the_entry(result)
    data: dict[str, Any] = {
        "reception_id": outcome.reception_id,
        "outcome": outcome.status,
        "state": flow.state.value,
        "variant": flow.variant.value if flow.variant else None,
        "method": flow.method.value if flow.method else None,
        "route": flow.route.value,
        "message": flow.message,
        # a stable code for scripts, beside the label staff read
        "fallback_reason": flow.fallback_reason.value if flow.fallback_reason else None,
        "fallback_reason_label": flow.fallback_reason.label if flow.fallback_reason else None,
        "pin_tries_left": flow.pin_tries_left,
        "face_score": flow.last_face_score,
        "validity": result.message_body.qualification_validity if result else None,
        "qualification": entry.model_dump(by_alias=True, exclude_none=True) if entry else None,
        # 負担割合 as a code: stated (後期, 高齢受給者) or derived as the clinic derives it
        "ratio": entry.ratio_code if entry else None,
        "notices": result.notices if result else [],
        "apdus": outcome.apdus,
        "timings_ms": outcome.timings,
        # 保険証利用登録 made at the reader during this check-in
        "registered": flow.registering and result is not None and result.confirmed,
        # the reader's numbered error screen (reception/error_screens.py): "002", "S01" …
        "error_screen": outcome.screen.code if outcome.screen else None,
        "error_screen_title": outcome.screen.title_ja if outcome.screen else None,
    }
    if outcome.wrong_card is not None:  # not the card expected: whose, and which was read
        wrong = outcome.wrong_card
        data["wrong_card"] = {
            "expected": wrong.expected.holder,
            "expected_sha256": wrong.expected.certificate_sha256.upper(),
            "found_sha256": wrong.found_sha256,
            "pin_sent": wrong.pin_sent,
        }
    if outcome.card_error:  # which reader, what to do (take the card out): on stderr
        _err(f"reception: {outcome.card_error}")
    if as_json:
        _print_json(data)
        return
    _print(f"受付 {outcome.reception_id}: {OUTCOME_SENTENCES[outcome.status]}")
    if data["registered"]:
        _print("  保険証利用登録をしました（このカードは今日から健康保険証として使えます）")
    if flow.message and flow.state is not State.CONFIRMED:
        # a confirmed result's message is among its notices below, or restated by one in
        # staff words (the certificate's grace period): one line, not two alike
        _print(f"  {flow.message}")
    if outcome.screen is not None:  # the number the reader showed, and what staff do
        _print(f"  画面 {outcome.screen.staff_line()}")
    if flow.fallback_reason:
        _print(f"  理由: {flow.fallback_reason.label} → {LADDER_HINT}")
    if entry is not None:
        valid = result is not None and result.is_valid
        for line in qualification_lines(entry, valid=valid):
            _print(f"  {line}")
    for notice in data["notices"]:
        _print(f"  ※ {notice}")
    timings = ", ".join(f"{k} {v:.1f} ms" for k, v in outcome.timings.items())
    _print(f"  APDU {outcome.apdus} 件; {timings}")
