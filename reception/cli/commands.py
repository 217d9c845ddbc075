"""The ladder, the queue, records, the folder interface, exports: the other ``reception``
commands.

A ladder command given a reception names it first (「受付 R… ・ 高橋 陽菜 ・ 要代替確認」,
:meth:`reception.target.LadderTarget.heading`); one the ladder refuses — the reception
is settled, or the 申立書 names another patient — prints why and exits 2 (bad input:
choose the right reception), writing nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reader.safe_text import printable
from reception.cli.common import (
    EXIT_ERROR,
    EXIT_FALLBACK,
    Session,
    UsageError,
    _err,
    _print,
    _print_json,
)
from reception.declaration import (
    NO_CARD_MESSAGE,
    LadderStep,
    SelfDeclaration,
)
from reception.errors import NotFound
from reception.vocabulary import ReceptionStatus

# What a command needs is imported by the command: `reception --help` and the quick
# commands start without the HTTP client, the card stack, the PDF or the settings machinery.
if TYPE_CHECKING:
    from reception.oqs_client import OqsClient
    from reception.reverify import ReverifySummary
    from reception.store import Reception, Store


def _heading(store: Store, reception_id: str, *, name: str | None = None) -> None:
    """Name the reception a ladder command acts on — or refuse it (LadderRefused, exit 2)."""
    from reception.ladder import check_target

    _print(check_target(store, reception_id, name=name).heading())


def cmd_declare(args: argparse.Namespace, session: Session) -> int:
    from reader.clock import now_jst
    from reception.ladder import file_declaration
    from reception.present import OUTCOME_SENTENCES

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
    store = session.store
    if args.reception:  # NotFound, settled, another patient's: said before the PDF is made
        _heading(store, args.reception, name=declaration.name)
    filed = file_declaration(
        store,
        declaration,
        session.settings.declarations_dir,
        reception_id=args.reception,
        out=args.out,
    )
    hint = declaration.billing_hint()
    _print(f"申立書 {filed.declaration_id} を記録しました: {filed.pdf or '（PDFなし）'}")
    if args.reception:
        _print(f"  受付 {args.reception}: {OUTCOME_SENTENCES[ReceptionStatus.DECLARED]}")
    if filed.pdf_error:
        _err(f"reception: {filed.pdf_error}")
    _print(f"  請求: {hint.note}（保険者番号 {hint.insurer_number}）")
    _print(
        "  再確認の待ち行列に入れました"
        + ("" if declaration.queryable else "（番号がないため、番号がわかるまで未確認のままです）")
    )
    return 0


def cmd_no_card(args: argparse.Namespace, session: Session) -> int:
    from reception.ladder import record_no_card
    from reception.present import OUTCOME_SENTENCES

    store = session.store
    if args.reception:
        _heading(store, args.reception)
    reception_id = record_no_card(store, args.reception, actor=args.staff)
    _print(f"受付 {reception_id}: {OUTCOME_SENTENCES[ReceptionStatus.SELF_PAY]}")
    _print(f"  {NO_CARD_MESSAGE}")
    return 0


def cmd_records(args: argparse.Namespace, session: Session) -> int:
    """The doctor's view of a reception's shared records (the 診療情報 tab, headless)."""
    from reception.home_visit.mode import refuse_records
    from reception.records import fetch_records

    refuse_records(session.settings.mode)  # 資格確認限定型: qualification only
    store = session.store
    fetched = session.ask_service(
        lambda client: fetch_records(client, store, args.reception, staff=args.staff)
    )
    sets = [s for s in fetched if args.kind in ("all", s.kind.kind)]
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


def cmd_link(args: argparse.Namespace, session: Session) -> int:
    """The folder interface, in the foreground until Ctrl+C or SIGTERM; or, with --send,
    one request dropped into req/ and its answer waited for (a tool for developers)."""
    settings = session.settings
    folder = args.folder or settings.link.folder
    if folder is None:
        raise UsageError("no folder: give --folder DIR (or set link.folder)")
    if args.send:
        return _send(folder, args.send, args.timeout)
    from reception.home_visit.mode import refused_kinds
    from reception.link import Link  # the watcher only for this command

    terminal = session.terminal
    with session.oqs() as client:

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
                answer_forms=settings.link.answer_form,
                zip_password=settings.link.password(),
                refused=refused_kinds(settings.mode),  # 資格確認限定型: no records
                watch_step_ms=settings.link.watch_step_ms,
            )
            link.prepare()
            _err(f"reception link: watching {link.req} (answers in {link.res}); Ctrl+C stops")
            async with client:
                await link.run(stop)

        asyncio.run(serve())
    return 0


def _send(folder: Path, request: Path, timeout: float) -> int:
    """Drop ``request`` into req/ whole (hidden name, then renamed) and print its answer:
    the XML, or, for an answer of another form (a PDF, a ZIP), its bytes — written to
    stdout as they are, the answer's path said on stderr."""
    from reception.export import write_atomically
    from reception.link import MAX_REQUEST_BYTES, answer_name
    from reception.shared_folder import read_file

    try:
        data = request.read_bytes()
    except OSError as exc:
        raise UsageError(f"{request}: {exc}") from None
    write_atomically(folder / "req" / request.name, data)  # exclusive temp, then renamed
    answers = [folder / "res" / answer_name(request.name, s) for s in (".xml", ".pdf", ".zip")]
    answer = answers[0]
    deadline = time.monotonic() + timeout
    found: bytes | None = None
    while True:
        try:
            answer, found = next(
                (a, read_file(a, MAX_REQUEST_BYTES)) for a in answers if a.exists()
            )  # never through a symlink
            break
        except (StopIteration, FileNotFoundError):
            pass
        if time.monotonic() > deadline:
            _err(f"reception link: no answer in {timeout:g} s ({answer}); is the link running?")
            return EXIT_ERROR
        time.sleep(0.01)
    if found is None:
        _err(f"reception link: {answer} is larger than 4 MiB")
        return EXIT_ERROR
    if answer.suffix != ".xml":
        _err(f"reception link: the answer is {answer}")
    sys.stdout.buffer.write(found)
    return 0


def cmd_pending(args: argparse.Namespace, session: Session) -> int:
    """What still waits: today's receptions the ladder has not settled (要代替確認,
    保留), and the 申立書 waiting for re-verification by number."""
    from reader.clock import now_jst

    store = session.store
    waiting = [r for r in store.receptions_on(now_jst().date()) if r.status in WAITING]
    items = store.pending()
    if args.json:
        _print_json(
            {
                "receptions": [_reception_json(store, r) for r in waiting],
                "declarations": [
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
                ],
            }
        )
        return 0
    if not waiting:
        _print("代替確認を待つ受付はありません")
    for reception in waiting:
        _print(_reception_line(store, reception))
    if not items:
        _print("再確認待ちの申立書はありません")
    for d in items:
        numbers = "番号あり" if d.declaration.queryable else "番号なし"
        _print(
            f"{d.declaration_id}  {d.created_at[:16]}  {d.declaration.name}  {numbers}  {d.state}"
        )
    return 0


WAITING = (ReceptionStatus.FALLBACK, ReceptionStatus.PENDING)
"""Statuses whose reception waits for staff to walk the ladder (a rung settles it)."""


def _reception_json(store: Store, reception: Reception) -> dict[str, Any]:
    """A reception for scripts: its status as a stable code beside the label staff read;
    the patient's name and 負担割合 from its last result (the share only when valid)."""
    from reception.present import STATUS_LABELS, method_label, the_entry

    results = store.results_of(reception.reception_id)
    last = results[-1] if results else None
    entry = the_entry(last)
    name = entry.name if entry is not None and entry.name else None
    ratio = entry.ratio if entry is not None and last is not None and last.is_valid else None
    return {
        "reception_id": reception.reception_id,
        "started_at": reception.started_at,
        "status": reception.status.value,
        "status_label": STATUS_LABELS[reception.status],
        "settled": reception.status.settled,
        "name": name,
        "method": reception.method.value if reception.method else None,
        "method_label": method_label(reception.method, reception.route),
        "ratio": ratio,
        "reason": reception.reason,
        "fallback_reason": reception.fallback_reason.value if reception.fallback_reason else None,
    }


def _reception_line(store: Store, reception: Reception) -> str:
    from reception.error_screens import screen_in
    from reception.present import reception_row

    time, name, method, status, ratio, _ = reception_row(store, reception)
    line = f"{reception.reception_id}  {time}  {name}  {method}  {status}  {ratio}"
    # the reader's numbered screen (【002】 …) while the reception waits for the ladder
    screen = None if reception.status.settled else screen_in(reception.reason)
    return f"{line}  {screen.heading()}" if screen is not None else line


def cmd_list(args: argparse.Namespace, session: Session) -> int:
    """The day's receptions with their status (the staff console's 受付一覧, headless)."""
    from reader.clock import now_jst

    store = session.store
    receptions = store.receptions_on(args.date or now_jst().date())
    if args.json:
        _print_json([_reception_json(store, r) for r in receptions])
        return 0
    if not receptions:
        _print("この日の受付はありません")
    for reception in receptions:
        _print(_reception_line(store, reception))
    return 0


def cmd_reverify(args: argparse.Namespace, session: Session) -> int:
    from reception.reverify import describe, reverify_pending, reverify_when_back

    session.world  # noqa: B018 — a bad --world is said before the store is opened
    store = session.store

    async def check(client: OqsClient) -> ReverifySummary:
        if args.wait:
            return await reverify_when_back(client, store, wait_seconds=args.wait)
        return await reverify_pending(client, store)

    summary = session.ask_service(check)
    _print(describe(summary))
    for declaration_id in summary.differing:
        difference = store.declaration(declaration_id).difference
        details = "、".join(f"{k}: 申立て {v[0]} → 照会 {v[1]}" for k, v in difference.items())
        _print(f"  相違 {declaration_id}: {details}")
    return EXIT_FALLBACK if summary.error else 0


def cmd_step(args: argparse.Namespace, session: Session) -> int:
    from reception.ladder import record_rung
    from reception.present import STATUS_LABELS

    store = session.store
    step = {
        "notice": LadderStep.NOTICE,
        "portal": LadderStep.PORTAL,
        "certificate": LadderStep.CERTIFICATE,
        "declaration": LadderStep.DECLARATION,
    }[args.step]
    from reception.ladder_rules import NoticeSeen

    if step is not LadderStep.NOTICE and (args.notice_until or args.birth_date):
        raise UsageError("--notice-until / --birth-date are for the notice rung only")
    _heading(store, args.reception)
    seen = NoticeSeen(until=args.notice_until, birth_date=args.birth_date)
    settled = record_rung(
        store,
        args.reception,
        step,
        args.detail,
        actor=args.staff,
        seen=seen,
        day=session.rules_day(),
    )
    _print(f"{args.reception}: {step.value} を記録しました")
    if settled is not None:
        _print(f"  受付 {args.reception}: {STATUS_LABELS[settled]}")
    return 0


def cmd_confirm_number(args: argparse.Namespace, session: Session) -> int:
    from reception.ladder import confirm_by_number
    from reception.oqs_client import NumberQuery
    from reception.present import qualification_lines

    store = session.store
    query = NumberQuery(
        insurer_number=args.insurer_number,
        symbol=args.symbol,
        number=args.number,
        branch=args.branch or "",
        birth_date=args.birth_date,
        limit_consent=args.limit_consent,
    )
    if args.reception:  # a settled reception is refused before the service is asked
        _heading(store, args.reception)
    answer = session.ask_service(
        lambda client: confirm_by_number(
            client,
            store,
            query,
            reception_id=args.reception,
            actor=args.staff,
            day=session.settings.today,  # reception --today: the 資格確認書 valid that day
        )
    )
    from reception.present import STATUS_LABELS

    result = answer.result
    _print(f"受付 {answer.reception_id}: {answer.verdict}")
    if answer.accepted:
        status = store.reception(answer.reception_id).status
        _print(f"  受付 {answer.reception_id}: {STATUS_LABELS[status]}")
    for entry in result.entries:
        for line in qualification_lines(entry, valid=result.is_valid):
            _print(f"  {line}")
    for notice in result.notices:
        _print(f"  ※ {notice}")
    return 0 if answer.accepted else EXIT_FALLBACK


def cmd_demo(args: argparse.Namespace, session: Session) -> int:
    from reception.sim.demo import run_demo  # Textual and the simulator only for the demo

    return run_demo(session.settings, args.world, loopback=args.loopback, today=args.today)


def cmd_tui(args: argparse.Namespace, session: Session) -> int:
    from reception.tui.launch import run_terminal

    return run_terminal(session.settings)


def cmd_export(args: argparse.Namespace, session: Session) -> int:
    from reception.export import export_csv, export_xml

    store = session.store
    privacy = session.settings.link.privacy  # the clinic software's group, if it has one
    if args.format == "csv":
        _print(str(export_csv(store, args.date, args.out, privacy)))
        return 0
    written = export_xml(store, args.date, args.out, privacy)
    for path in written:
        _print(str(path))
    if not written:
        _err(f"{args.date}: 結果のある受付はありません")
    return 0


def cmd_result_file(args: argparse.Namespace, session: Session) -> int:

    store = session.store
    reception_id = store.reception_of_file(args.name)
    if reception_id is None:
        raise NotFound(
            f"{printable(Path(args.name).name)}: no reception of this store wrote it (a face/ "
            "result is named OQSsiquc01res_face_<医療機関コード><20 hex>_<yyyyMMddHHmmss>.xml)"
        )
    _print(reception_id)
    return 0
