"""The staff detail's rungs that depend on the rules' day (reception/ladder_rules.py): the
expired 保険証 (offered only 2025-12-02..2026-03-31) and the お知らせ's 有効期限 asked for
a 70+ patient (or when the reception does not know the birth date)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from reception.errors import ReceptionError
from reception.ladder_rules import NoticeSeen, interim_open, is_elderly, patient_birth
from reception.old_card import confirm_old_card
from reception.oqs_client import OqsError
from reception.target import LadderTarget
from reception.tui.screens.old_card import NoticeDatesScreen, OldCardForm, OldCardScreen
from reception.tui.text import safe
from reception.tui.widgets.messages import DeveloperNote

if TYPE_CHECKING:
    from reception.tui.widgets.detail import ReceptionDetail

OLD_CARD_BUTTON = ("ladder-old-card", "期限切れ保険証で照会")


def old_card_offered(day: dt.date) -> bool:
    """The rung is on the console only on the interim rule's days."""
    return interim_open(day)


def ask_old_card(detail: ReceptionDetail, target: LadderTarget, day: dt.date) -> None:
    """The form of the printed numbers, then the query in a worker."""
    rid = target.reception_id

    def query(form: OldCardForm | None) -> None:
        if form is not None:
            detail.run_worker(
                _query(detail, rid, form, day), group="oqs", exclusive=True, exit_on_error=False
            )

    detail.app.push_screen(OldCardScreen(target.heading(), day), query)


async def _query(detail: ReceptionDetail, rid: str, form: OldCardForm, day: dt.date) -> None:
    try:
        answer = await confirm_old_card(
            detail.client,
            detail.store,
            form.query,
            day=day,
            document=form.document,
            printed_until=form.printed_until,
            reception_id=rid,
        )
    except OqsError as exc:
        detail.post_message(DeveloperNote(f"OQS: {type(exc).__name__}: {exc}"))
        detail.notify(safe(exc.staff_message), severity="error")
        return
    except ReceptionError as exc:  # outside the window, settled meanwhile
        detail._refused(rid, exc)
        return
    detail.notify(
        safe(f"受付 {rid} {form.document.value}の照会: {answer.verdict}"),
        severity="information" if answer.accepted else "warning",
        timeout=10,
    )
    detail._changed(rid)


def notice_dates_first(
    detail: ReceptionDetail,
    target: LadderTarget,
    day: dt.date,
    then: Callable[[NoticeSeen | None], None],
) -> None:
    """Ask the お知らせ's 有効期限 (70+) and the birth date (unknown) before ``then``; a
    patient known to be under 70 is asked nothing."""
    birth = patient_birth(detail.store, target.reception_id)
    if birth is not None and not is_elderly(birth, day):
        then(None)
        return

    def asked(seen: NoticeSeen | None) -> None:
        if seen is not None:
            then(seen)

    detail.app.push_screen(NoticeDatesScreen(target.heading(), day, birth), asked)
