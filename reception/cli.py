"""``reception``: the terminal's headless commands.

  reception checkin   one check-in with a persona's virtual card (or a real card)
  reception declare   a 被保険者資格申立書 → store + printable PDF + re-verification queue
  reception pending   the declarations waiting for re-verification
  reception reverify  re-check the queue by number (waits for the service with --wait)
  reception step      record a rung of the fallback ladder for a reception
  reception confirm-number   query by 保険者番号・記号・番号 (the 資格確認書 rung)
  reception export    a day's results as XmlMsg files or one CSV
  reception result-file   the reception a face/ result file belongs to

Settings: reception.toml in the config directory and RECEPTION_* variables
(see reception/settings.py). A PIN is read from the terminal or, with --pin-stdin,
from standard input — never from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reader.argtypes import QuietArgumentParser, iso_date
from reader.errors import (
    CardRemoved,
    NoCard,
    ReaderError,
    ReaderUnavailable,
    SlotTaken,
    WorldError,
)
from reader.exitcodes import EPILOG as EXIT_EPILOG
from reader.exitcodes import ExitCode
from reader.safe_text import json_safe, printable
from reception.camera import FaceScenario
from reception.declaration import (
    NO_CARD_MESSAGE,
    DeclarationError,
    LadderStep,
    SelfDeclaration,
)
from reception.errors import InputError, NotFound, ReceptionError
from reception.flow import (
    REGISTRATION_OPEN,
    ConsentsGiven,
    Method,
    Prescription,
    Route,
    State,
    open_items,
)
from reception.vocabulary import NAMED_CONSENTS, SharedRecords

# What a command needs is imported by the command: `reception --help` and the quick
# commands start without the HTTP client, the card stack, the PDF or the settings machinery.
if TYPE_CHECKING:
    from reader.transport import Transport
    from reception.checkin import CheckinOutcome, Terminal
    from reception.ladder import NumberAnswer
    from reception.oqs_client import OqsClient
    from reception.settings import ReceptionSettings
    from reception.sim.world import WorldFiles

TRANSPORTS = ("pcsc", "loopback")  # reception.settings.TransportKind (a test keeps them equal)

EXIT_CONFIRMED = ExitCode.OK
EXIT_ERROR = ExitCode.ERROR
EXIT_USAGE = ExitCode.USAGE
EXIT_FALLBACK = ExitCode.FALLBACK
EXIT_CARD = ExitCode.NO_READER
EXIT_WRONG_PIN = ExitCode.PIN_WRONG
EXIT_PIN_BLOCKED = ExitCode.PIN_BLOCKED
EXIT_FACE = ExitCode.FACE_NOT_MATCHED
EXIT_WRONG_CARD = ExitCode.WRONG_CARD
EXIT_SLOT_TAKEN = ExitCode.SLOT_TAKEN

EXIT_CODES = {
    State.CONFIRMED: EXIT_CONFIRMED,
    State.FALLBACK: EXIT_FALLBACK,
    State.OQS_UNAVAILABLE: EXIT_FALLBACK,
    State.CARD_REMOVED: EXIT_CARD,
    State.READER_LOST: EXIT_CARD,
    State.CARD_UNREADABLE: EXIT_FALLBACK,
    State.PIN_WRONG: EXIT_WRONG_PIN,
    State.PIN_BLOCKED: EXIT_PIN_BLOCKED,
    State.FACE_NOT_MATCHED: EXIT_FACE,
    State.WRONG_CARD: EXIT_WRONG_CARD,
}

EPILOG = (
    EXIT_EPILOG
    + " (checkin: 0 confirmed; 9 also when the service is unreachable or the card cannot "
    "be read, and 3 when the reader fails — the reception is kept as pending for the "
    "ladder)"
)

CONSENT_ITEMS = NAMED_CONSENTS


class UsageError(InputError):
    title = "使い方の誤り"


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


def _asked(args: argparse.Namespace, route: Route, method: Method) -> ConsentsGiven:
    """What the headless patient agrees to — refused up front, before a reception begins,
    where the route or method does not offer it (design.md §6.9; reception/flow.py
    OPEN_ITEMS): 保険証利用登録 after 目視 or on the 居宅同意取得型 route, 手術情報 on that
    route, the 受給者証 by card after 目視 or on that route."""
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


def _print(text: str) -> None:
    """Every line for the terminal: names and messages from outside may carry controls
    (ESC sequences, bidi overrides), shown as ␛ / � instead of acting."""
    sys.stdout.write(printable(text, multiline=True) + "\n")


def _print_json(data: Any) -> None:
    """JSON on stdout: the same data, with controls as \\uXXXX escapes."""
    sys.stdout.write(json_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n")


def _err(text: str) -> None:
    sys.stderr.write(printable(text, multiline=True) + "\n")


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
    if args.medium == "phone" and not args.reader:
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


@contextlib.contextmanager
def oqs_for(
    args: argparse.Namespace, settings: ReceptionSettings, world: WorldFiles | None
) -> Iterator[OqsClient]:
    from reception.oqs_client import OqsClient

    if settings.oqs.url is None and world is None:
        raise UsageError("no OQS url: set oqs.url (or RECEPTION_OQS__URL), or give --world")
    with contextlib.ExitStack() as stack:
        oqs = settings.oqs
        if world is not None:
            url = oqs.url or stack.enter_context(world.served())
            oqs = world.oqs_settings(oqs, url)
        yield OqsClient(oqs)


def _world(args: argparse.Namespace) -> WorldFiles | None:
    """The simulator's world of ``--world`` (the simulator is loaded only then)."""
    if not args.world:
        return None
    from reception.sim.world import WorldFiles

    return WorldFiles.open(args.world)


def _terminal(settings: ReceptionSettings, world: WorldFiles | None) -> Terminal:
    from reception.checkin import Terminal

    cert, key = settings.oqs.client_cert, settings.oqs.client_key
    face = settings.face.terminal_certificate
    if world is not None:
        cert, key = cert or world.terminal_cert, key or world.terminal_key
        face = face or world.face_certificate
    if cert is None or key is None:
        raise UsageError("no terminal certificate: set oqs.client_cert/client_key or --world")
    return Terminal.load(cert, key, face)


# -- commands --------------------------------------------------------------------------------


def cmd_checkin(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reader.jpki import ReadMode
    from reader.transport import TracingTransport
    from reception.checkin import CheckinRequest, ExpectedCard, check_in, open_card
    from reception.reverify import describe, reverify_pending
    from reception.store import Store

    world = _world(args)
    card_path = world.card(args.persona) if world and args.persona else None
    if args.persona and world is None:
        raise UsageError("--persona needs --world")
    expected = (
        ExpectedCard(world.certificate_sha256(args.persona), args.persona)
        if world is not None and args.persona
        else None
    )
    terminal = _terminal(settings, world)
    store = Store(args.store or settings.store_path)
    route = Route(args.route)
    if route is Route.COUNTER and args.method == Method.FACE.value:
        raise UsageError("居宅同意取得型にはカメラがありません: --method pin か visual です")
    if args.reception and route is not Route.COUNTER:
        raise UsageError("--reception settles a pending reception by --route counter")
    consents = _asked(args, route, Method(args.method))
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
        client = stack.enter_context(oqs_for(args, settings, world))
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
                    rules=settings.reader.counter_rules(),
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
    if flow.message:
        _print(f"  {flow.message}")
    if flow.fallback_reason:
        _print(f"  理由: {flow.fallback_reason.label} → {LADDER_HINT}")
    if entry is not None:
        valid = result is not None and result.message_body.qualification_validity == "1"
        for line in qualification_lines(entry, valid=valid):
            _print(f"  {line}")
    for notice in data["notices"]:
        _print(f"  ※ {notice}")
    timings = ", ".join(f"{k} {v:.1f} ms" for k, v in outcome.timings.items())
    _print(f"  APDU {outcome.apdus} 件; {timings}")


def cmd_declare(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.ladder import file_declaration
    from reception.store import Store, now_jst

    data: dict[str, Any] = {}
    if args.json_file:
        try:
            loaded = json.loads(Path(args.json_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{args.json_file}: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"{args.json_file}: expected a JSON object of the form's fields")
        data.update(loaded)
    for name in SelfDeclaration.model_fields:
        value = getattr(args, name, None)
        if value is not None:
            data[name] = value
    data.setdefault("declared_on", now_jst().date().isoformat())  # the clinic's day
    declaration = SelfDeclaration.parse(data)
    store = Store(args.store or settings.store_path)
    if args.reception:
        store.reception(args.reception)  # NotFound → a clear message
    filed = file_declaration(
        store, declaration, settings.declarations_dir, reception_id=args.reception, out=args.out
    )
    hint = declaration.billing_hint()
    _print(f"申立書 {filed.declaration_id} を記録しました: {filed.pdf or '（PDFなし）'}")
    if filed.pdf_error:
        _err(f"reception: {filed.pdf_error}")
    _print(f"  請求: {hint.note}（保険者番号 {hint.insurer_number}）")
    _print(
        "  再確認の待ち行列に入れました"
        + ("" if declaration.queryable else "（番号がないため、番号がわかるまで未確認のままです）")
    )
    return 0


def cmd_no_card(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.ladder import record_no_card
    from reception.present import OUTCOME_SENTENCES
    from reception.store import ReceptionStatus, Store

    store = Store(args.store or settings.store_path)
    reception_id = record_no_card(store, args.reception, actor=args.staff)
    _print(f"受付 {reception_id}: {OUTCOME_SENTENCES[ReceptionStatus.SELF_PAY]}")
    _print(f"  {NO_CARD_MESSAGE}")
    return 0


def cmd_records(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    """The doctor's view of a reception's shared records (the 診療情報 tab, headless)."""
    from reception.records import fetch_records
    from reception.store import Store

    store = Store(args.store or settings.store_path)
    world = _world(args)
    with oqs_for(args, settings, world) as client:

        async def go() -> list[Any]:
            async with client:
                return await fetch_records(client, store, args.reception, staff=args.staff)

        sets = [s for s in asyncio.run(go()) if args.kind in ("all", s.kind.kind)]
    if args.json:
        _print_json(
            {
                "reception_id": args.reception,
                "records": {s.kind.kind: {"status": s.status, "rows": s.rows} for s in sets},
            }
        )
        return 0
    for found in sets:
        _print(f"{found.kind.label}: {found.summary}")
        for row in found.rows:
            _print("  " + " ・ ".join(str(row.get(key, "")) for key, _ in found.kind.columns))
    return 0


def cmd_link(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    """The folder interface, in the foreground until Ctrl+C or SIGTERM; or, with --send,
    one request dropped into req/ and its answer waited for (a tool for developers)."""
    folder = args.folder or settings.link.folder
    if folder is None:
        raise UsageError("no folder: give --folder DIR (or set link.folder)")
    if args.send:
        return _send(folder, args.send, args.timeout)
    from reception.link import Link  # the watcher only for this command

    world = _world(args)
    terminal = _terminal(settings, world)
    with oqs_for(args, settings, world) as client:

        async def serve() -> None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            link = Link(
                folder,
                client,
                institution_code=terminal.institution_code,
                private_dir=settings.data_dir,  # the journal: out of the folder's reach
                keep_done=not (args.remove_done or settings.link.remove_done),
                # name and detail come safe to show: a newline in a file name forges no line
                on_event=lambda e: _err(f"{e.at} {e.kind} {e.name} {e.detail}".rstrip()),
                privacy=settings.link.privacy,
            )
            link.prepare()
            _err(f"reception link: watching {link.req} (answers in {link.res}); Ctrl+C stops")
            async with client:
                await link.run(stop)

        asyncio.run(serve())
    return 0


def _send(folder: Path, request: Path, timeout: float) -> int:
    """Drop ``request`` into req/ whole (hidden name, then renamed) and print its answer."""
    from reception.export import write_atomically
    from reception.link import MAX_REQUEST_BYTES, answer_name
    from reception.shared_folder import read_file

    try:
        data = request.read_bytes()
    except OSError as exc:
        raise UsageError(f"{request}: {exc}") from None
    write_atomically(folder / "req" / request.name, data)  # exclusive temp, then renamed
    answer = folder / "res" / answer_name(request.name)
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = read_file(answer, MAX_REQUEST_BYTES)  # never through a symlink
            break
        except FileNotFoundError:
            pass
        if time.monotonic() > deadline:
            _err(f"reception link: no answer in {timeout:g} s ({answer}); is the link running?")
            return EXIT_ERROR
        time.sleep(0.01)
    if found is None:
        _err(f"reception link: {answer} is larger than 4 MiB")
        return EXIT_ERROR
    sys.stdout.buffer.write(found)
    return 0


def cmd_pending(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.store import Store

    store = Store(args.store or settings.store_path)
    items = store.pending()
    if args.json:
        _print_json(
            [
                {
                    "declaration_id": d.declaration_id,
                    "reception_id": d.reception_id,
                    "created_at": d.created_at,
                    "state": d.state,
                    "name": d.declaration.name,
                    "reason": d.declaration.reason.value,
                    "reason_label": d.declaration.reason.label,
                    "queryable": d.declaration.queryable,
                    "pdf": d.pdf,
                }
                for d in items
            ]
        )
        return 0
    if not items:
        _print("再確認待ちの申立書はありません")
    for d in items:
        numbers = "番号あり" if d.declaration.queryable else "番号なし"
        _print(
            f"{d.declaration_id}  {d.created_at[:16]}  {d.declaration.name}  {numbers}  {d.state}"
        )
    return 0


def cmd_reverify(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.reverify import describe, reverify_pending, reverify_when_back
    from reception.store import Store

    world = _world(args)
    store = Store(args.store or settings.store_path)
    with oqs_for(args, settings, world) as client:

        async def go() -> Any:
            async with client:
                if args.wait:
                    return await reverify_when_back(client, store, wait_seconds=args.wait)
                return await reverify_pending(client, store)

        summary = asyncio.run(go())
    _print(describe(summary))
    for declaration_id in summary.differing:
        difference = store.declaration(declaration_id).difference
        details = "、".join(f"{k}: 申立て {v[0]} → 照会 {v[1]}" for k, v in difference.items())
        _print(f"  相違 {declaration_id}: {details}")
    return EXIT_FALLBACK if summary.error else 0


def cmd_step(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.ladder import record_rung
    from reception.store import Store

    store = Store(args.store or settings.store_path)
    step = {
        "notice": LadderStep.NOTICE,
        "portal": LadderStep.PORTAL,
        "certificate": LadderStep.CERTIFICATE,
        "declaration": LadderStep.DECLARATION,
    }[args.step]
    record_rung(store, args.reception, step, args.detail, actor=args.staff)
    _print(f"{args.reception}: {step.value} を記録しました")
    return 0


def cmd_confirm_number(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.ladder import confirm_by_number
    from reception.oqs_client import NumberQuery
    from reception.present import qualification_lines
    from reception.store import Store

    store = Store(args.store or settings.store_path)
    query = NumberQuery(
        insurer_number=args.insurer_number,
        symbol=args.symbol,
        number=args.number,
        branch=args.branch or "",
        birth_date=args.birth_date,
        limit_consent=args.limit_consent,
    )
    with oqs_for(args, settings, _world(args)) as client:

        async def go() -> NumberAnswer:
            async with client:
                return await confirm_by_number(
                    client, store, query, reception_id=args.reception, actor=args.staff
                )

        answer = asyncio.run(go())
    result = answer.result
    _print(f"受付 {answer.reception_id}: {answer.verdict}")
    valid = result.message_body.qualification_validity == "1"
    for entry in result.entries:
        for line in qualification_lines(entry, valid=valid):
            _print(f"  {line}")
    for notice in result.notices:
        _print(f"  ※ {notice}")
    return 0 if answer.accepted else EXIT_FALLBACK


def cmd_demo(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.sim.demo import run_demo  # Textual and the simulator only for the demo

    return run_demo(settings, args.world, loopback=args.loopback)


def cmd_tui(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.tui.launch import run_terminal

    return run_terminal(settings)


def cmd_export(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.export import export_csv, export_xml
    from reception.store import Store

    store = Store(args.store or settings.store_path)
    privacy = settings.link.privacy  # the clinic software's group, if it has one
    if args.format == "csv":
        _print(str(export_csv(store, args.date, args.out, privacy)))
        return 0
    written = export_xml(store, args.date, args.out, privacy)
    for path in written:
        _print(str(path))
    if not written:
        _err(f"{args.date}: 結果のある受付はありません")
    return 0


def cmd_result_file(args: argparse.Namespace, settings: ReceptionSettings) -> int:
    from reception.store import Store

    store = Store(args.store or settings.store_path)
    reception_id = store.reception_of_file(args.name)
    if reception_id is None:
        raise NotFound(
            f"{printable(Path(args.name).name)}: no reception of this store wrote it (a face/ "
            "result is named OQSsiquc01res_face_<医療機関コード><20 hex>_<yyyyMMddHHmmss>.xml)"
        )
    _print(reception_id)
    return 0


# -- parser ------------------------------------------------------------------------------------


def _checkin_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument("--world", type=Path, help="a world made by `mock-oqs seed`")
    c.add_argument(
        "--persona",
        help="whose virtual card (an id of the world's index): served into vpcd's --slot "
        "(or in process); the card read must be that persona's (exit 10 otherwise, before "
        "any PIN is sent)",
    )
    c.add_argument("--transport", choices=TRANSPORTS)
    c.add_argument(
        "--reader",
        help="PC/SC reader name (default: the configured one, or the first with a card); "
        "with --persona: the persona's card is already in this reader (put there with "
        "`vcard serve`, say) and is used as it is, not served",
    )
    c.add_argument(
        "--slot",
        type=int,
        choices=[0, 1],
        default=0,
        help="vpcd slot for a persona (exit 11 when it already holds a card)",
    )
    c.add_argument(
        "--medium",
        choices=["card", "phone"],
        default="card",
        help="what the patient chose at the reader: phone reads the clinic's reader for "
        "smartphones (reader.phone_name) when it has one; the card itself tells what it is",
    )
    c.add_argument("--wait", type=float, default=0.0, help="seconds to wait for a card")
    c.add_argument("--method", choices=[m.value for m in Method], required=True)
    c.add_argument("--pin-stdin", action="store_true", help="read the PIN from standard input")
    c.add_argument(
        "--face",
        choices=[s.value for s in FaceScenario],
        default="same",
        help="the simulated camera's scenario",
    )
    c.add_argument(
        "--consent",
        type=_consents,
        default=frozenset(),
        help="comma list of medication, checkup, operation, or all (all = まとめて同意: what "
        "the route offers — the 居宅同意取得型 route (--route counter) offers medication and "
        "checkup); limit only counts in the pre-2024 flow (RECEPTION_READER__CONSENT_FLOW="
        "pre-2024): since 2024-10-07 限度額 information is provided without a question",
    )
    c.add_argument(
        "--prescription",
        choices=sorted(PRESCRIPTION_CHOICES),
        help="処方箋の発行形態 the patient chooses, where the clinic issues electronic "
        "prescriptions (RECEPTION_READER__ELECTRONIC_PRESCRIPTIONS=true)",
    )
    c.add_argument(
        "--subsidies",
        action="store_true",
        help="the patient uses their 医療費助成 受給者証 by card (where the clinic's area runs "
        "the pilot: RECEPTION_READER__PUBLIC_EXPENSE_PILOT=true; elsewhere ignored); not "
        "after 目視 nor on the 居宅同意取得型 route",
    )
    c.add_argument(
        "--register",
        action="store_true",
        help="the card lacks 保険証利用登録: the patient agrees to register it at the reader "
        "(the check-in then goes on; without this flag a 未登録 card goes to the ladder); "
        "only with --method pin or face at the reader — never after 目視",
    )
    c.add_argument(
        "--route",
        choices=[r.value for r in Route],
        default=Route.READER.value,
        help="counter: 居宅同意取得型 at a staff-held reader (consent first, then pin or visual)",
    )
    c.add_argument(
        "--reception", help="the pending reception this check-in settles (with --route counter)"
    )
    c.add_argument("--extended", action="store_true", help="extended-length certificate reads")
    c.add_argument("--trace", type=Path, help="append the APDU trace here (VERIFY redacted)")
    c.add_argument("--seed", type=int, help="the camera's seed (reproducible face scores)")
    c.add_argument("--json", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = QuietArgumentParser(
        prog="reception",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--store", type=Path, help="the store file (default: data directory)")
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument("--log-file", type=Path, help="write the log here (redacted)")
    parser.add_argument("--staff", default="staff", help="who acts (for the audit trail)")
    sub = parser.add_subparsers(dest="command")

    def add(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        sub_parser: argparse.ArgumentParser = sub.add_parser(name, allow_abbrev=False, **kwargs)
        return sub_parser

    _checkin_arguments(add("checkin", help="one check-in", epilog=EPILOG))
    d = add("declare", help="record a 被保険者資格申立書 and print it")
    d.add_argument("--json-file", help="the form's fields as JSON (arguments override)")
    for name, field in SelfDeclaration.model_fields.items():
        described = (field.description or "").replace("%", "%%")
        if field.annotation is bool:  # --card-shown: staff saw the マイナ保険証
            option = f"--{name.replace('_', '-')}"
            d.add_argument(option, dest=name, action="store_true", default=None, help=described)
            continue
        d.add_argument(f"--{name.replace('_', '-')}", dest=name, help=described)
    d.add_argument("--reception", help="the reception this declaration belongs to")
    d.add_argument("--out", type=Path, help="where the PDF goes")

    p = add("pending", help="declarations waiting for re-verification")
    p.add_argument("--json", action="store_true")

    r = add("reverify", help="re-check queued declarations by number")
    r.add_argument("--world", type=Path)
    r.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for the service to answer first"
    )

    s = add("step", help="record a rung of the fallback ladder")
    s.add_argument("reception")
    s.add_argument("step", choices=["notice", "portal", "certificate", "declaration"])
    s.add_argument("--detail", required=True, help="what staff saw")

    nc = add(
        "no-card",
        help="neither マイナ保険証 nor 資格確認書: 10割 now, refund from the insurer later",
    )
    nc.add_argument("--reception", help="the reception (default: a new one)")

    rc = add(
        "records",
        help="the doctor's view: 薬剤情報・診療情報・手術情報・特定健診 of a reception's patient "
        "(only what they consented to share, 24 h; each look is audited)",
    )
    rc.add_argument("reception", help="a reception confirmed by card")
    rc.add_argument(
        "--kind",
        choices=["all", *SharedRecords],
        default="all",
    )
    rc.add_argument("--world", type=Path)
    rc.add_argument("--json", action="store_true")

    n = add("confirm-number", help="query by number (資格確認書)")
    n.add_argument("--world", type=Path)
    n.add_argument("--insurer-number", required=True)
    n.add_argument("--symbol", required=True)
    n.add_argument("--number", required=True)
    n.add_argument("--branch")
    n.add_argument("--birth-date", type=iso_date, required=True)
    n.add_argument("--limit-consent", action="store_true")
    n.add_argument("--reception", help="add to this reception (default: a new one)")

    t = add("demo", help="the TUI with a seeded world, the mock service and virtual cards")
    t.add_argument("--world", type=Path, help="reuse this world (default: a new one)")
    t.add_argument("--loopback", action="store_true", help="cards in process, not via pcscd")

    k = add(
        "link",
        help="the folder interface for clinic software (req/ → res/, face/)",
        description="Watch DIR/req and answer into DIR/res as a 資格確認端末 does (oqs.md §7).",
    )
    k.add_argument("--folder", type=Path, help="the shared folder (default: link.folder)")
    k.add_argument("--world", type=Path, help="a simulator world (its service and terminal)")
    k.add_argument(
        "--remove-done", action="store_true", help="remove answered requests (default: req/done/)"
    )
    k.add_argument("--send", type=Path, help="drop this request file in and print its answer")
    k.add_argument("--timeout", type=float, default=10.0, help="seconds --send waits")

    e = add("export", help="a day's results as XmlMsg files or CSV")
    e.add_argument("--date", type=iso_date, required=True)
    e.add_argument("--format", choices=["xml", "csv"], required=True)
    e.add_argument("--out", type=Path, required=True)
    r = add(
        "result-file",
        help="the reception a face/ result file belongs to",
        description="Print the reception id of a face/ result file, found from its name "
        "(OQSsiquc01res_face_<医療機関コード><20 hex>_<time>.xml); exit 2 when none of this "
        "store's receptions has it.",
    )
    r.add_argument("name", help="the file's name or path (the file itself is not read)")
    return parser


COMMANDS: dict[str, Callable[[argparse.Namespace, ReceptionSettings], int]] = {
    "checkin": cmd_checkin,
    "declare": cmd_declare,
    "pending": cmd_pending,
    "reverify": cmd_reverify,
    "step": cmd_step,
    "confirm-number": cmd_confirm_number,
    "no-card": cmd_no_card,
    "records": cmd_records,
    "link": cmd_link,
    "demo": cmd_demo,
    "export": cmd_export,
    "result-file": cmd_result_file,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # not echoed: a PIN typed on the command line must not reach the screen or a log
        parser.error(
            f"{len(unknown)} unrecognized argument(s), not shown; a PIN is read from the "
            "terminal or with --pin-stdin, never from the command line"
        )
    from reader.pin import InvalidPin
    from reception.oqs_client import OqsError
    from reception.redaction import configure_logging
    from reception.settings import load_settings

    configure_logging(args.log_level, args.log_file)
    settings: ReceptionSettings | None = None
    try:
        settings = load_settings()
        if (
            args.command in ("reverify", "confirm-number")
            and args.world is None
            and (settings.oqs.url is None)
        ):
            raise UsageError("no OQS url: set oqs.url (or RECEPTION_OQS__URL), or give --world")
        # `reception` alone: the terminal's UI
        return COMMANDS.get(args.command or "", cmd_tui)(args, settings)
    except InvalidPin as exc:  # the message never repeats what was typed
        _err(
            "reception: 暗証番号は4桁の半角数字です。試行回数は減っていません。"
            "受付は取り消しました\n"
            f"reception: {exc}; no try was spent, the reception was cancelled"
        )
        return EXIT_USAGE
    except DeclarationError as exc:
        _err(f"reception: {exc.title}:")
        for problem in exc.problems:
            _err(f"  - {problem}")
        return EXIT_USAGE
    except OqsError as exc:
        _err(f"reception: {exc.title}: {exc}")
        return EXIT_FALLBACK if exc.fallback else EXIT_ERROR
    except SlotTaken as exc:  # the persona's card cannot go into the virtual reader
        _err(f"reception: {exc.title}: {exc.staff_message}\nreception: {exc}")
        return EXIT_SLOT_TAKEN
    except WorldError as exc:  # the simulator's world (--world, --persona)
        _err(f"reception: {exc}")
        return EXIT_USAGE
    except InputError as exc:  # settings, terminal, usage, not found, cancelled
        _err(f"reception: {exc}")
        return EXIT_USAGE
    except sqlite3.Error as exc:  # the store, found damaged past its first pages
        from reception.store import store_problem

        path = args.store or (settings.store_path if settings is not None else Path("?"))
        unusable = store_problem(path, exc)
        _err(f"reception: {unusable.title}: {unusable}")
        return EXIT_ERROR
    except (NoCard, ReaderUnavailable, CardRemoved) as exc:
        # no reader, no card, pcscd not running, the card held by another connection:
        # the reader's state, as myna-reader reports it (reader/exitcodes.py)
        _err(f"reception: {exc.title}: {exc}")
        return EXIT_CARD
    except (ReceptionError, ReaderError, OSError) as exc:
        _err(f"reception: {getattr(exc, 'title', type(exc).__name__)}: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("reception: interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
