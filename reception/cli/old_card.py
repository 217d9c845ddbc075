"""``reception old-card``: the rung 「有効期限切れの保険証」 (reception/old_card.py) — the
numbers printed on an expired 保険証 (or on a 資格情報のお知らせ brought alone) queried on
the rules' day (``reception --today``, else the ``--world``'s day, else today)."""

from __future__ import annotations

import argparse

from reception.cli.common import EXIT_FALLBACK, Session, _print


def cmd_old_card(args: argparse.Namespace, session: Session) -> int:
    from reception.declaration import check_insurer_number
    from reception.errors import InputError
    from reception.ladder import check_target
    from reception.ladder_rules import OldDocument
    from reception.old_card import check_old_card, confirm_old_card
    from reception.oqs_client import NumberQuery
    from reception.present import STATUS_LABELS, qualification_lines

    try:  # the terminal checks the number itself before it asks (oqs.md §4)
        insurer = check_insurer_number(args.insurer_number)
    except ValueError as exc:
        raise InputError(f"--insurer-number: {exc}") from None
    day = session.rules_day()
    document = OldDocument.NOTICE_ALONE if args.notice_only else OldDocument.HOKENSHO
    # refused (the day, the printed date) before a store is opened or a service asked
    check_old_card(day, document, args.printed_until, args.birth_date)
    query = NumberQuery(
        insurer_number=insurer,
        symbol=args.symbol,
        number=args.number,
        branch=args.branch or "",
        birth_date=args.birth_date,
    )
    store = session.store
    if args.reception:  # a settled reception is refused before the service is asked
        _print(check_target(store, args.reception).heading())
    answer = session.ask_service(
        lambda client: confirm_old_card(
            client,
            store,
            query,
            day=day,
            document=document,
            printed_until=args.printed_until,
            reception_id=args.reception,
            actor=args.staff,
        )
    )
    _print(f"受付 {answer.reception_id}: {document.value}（{day:%Y-%m-%d}）: {answer.verdict}")
    if answer.accepted:
        status = store.reception(answer.reception_id).status
        _print(f"  受付 {answer.reception_id}: {STATUS_LABELS[status]}")
    for entry in answer.result.entries:
        for line in qualification_lines(entry, valid=answer.result.is_valid):
            _print(f"  {line}")
    return 0 if answer.accepted else EXIT_FALLBACK
