"""The fallback ladder's use cases (oqs.md §6), for every front end: recording a rung,
the 資格確認書 query by number, and filing a 被保険者資格申立書.

Each rung that settles the visit gives the reception its status, in the transaction that
records the rung: お知らせ / マイナポータル seen → ``confirmed-notice`` (確認済（お知らせ）),
a 資格確認書 query accepted → ``confirmed-certificate``, a 申立書 → ``declared``,
neither card nor 資格確認書 → ``self-pay``. A settled reception takes no more rungs, and
a 申立書 whose name is not the reception's patient is not attached to it: every use case
asks :func:`reception.target.refusal` before it writes (or sends anything) and raises
:class:`LadderRefused` with its words (issue 22 §1, §2).

Filing a 申立書: the printed form first, then one transaction that stores the
declaration with its form and queues it for re-verification.

A kill -9 at any moment leaves either nothing (the staff see the form was not saved) or
a declaration with its PDF — never a declaration whose form was lost on the way. A PDF
that cannot be made (no font, a full disk) does not lose the declaration: it is stored
without one and the reason is returned for the staff.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from reader.clock import now_jst
from reception import kakunin
from reception.declaration import NO_CARD_MESSAGE, LadderStep, SelfDeclaration
from reception.errors import InputError
from reception.ladder_rules import NoticeSeen, check_notice
from reception.oqs_client import NumberQuery, OqsClient, OqsError
from reception.pdf import FontMissing, render_declaration
from reception.reasons import FallbackReason
from reception.results import QualificationResult
from reception.store import ReceptionStatus, Store, new_id
from reception.target import LadderTarget, ladder_target, refusal
from reception.vocabulary import ReceptionMethod


@dataclass(frozen=True)
class FiledDeclaration:
    declaration_id: str
    pdf: Path | None
    pdf_error: str | None  # why there is no PDF (staff-readable), if there is none


def file_declaration(
    store: Store,
    declaration: SelfDeclaration,
    directory: Path,
    *,
    reception_id: str | None = None,
    actor: str = "staff",
    out: Path | None = None,
) -> FiledDeclaration:
    """Print the form into ``directory`` (or to ``out``), then store it in one go.

    Filed on a reception, it settles it as ``declared`` (申立書受付) — refused
    (:class:`LadderRefused`) when the reception is settled already or the form's name
    is not its patient's. Not for 医療扶助: a 生活保護 recipient is nobody's 被保険者 — the
    申立書 declares an insurance qualification; the 福祉事務所 issues the 医療券
    (:class:`MedicalAidCase`)."""
    medical_aid = declaration_refusal(store, reception_id)
    if medical_aid is not None:  # said first: whom to call, not only that it is settled
        raise MedicalAidCase(medical_aid)
    if reception_id is not None:
        check_target(store, reception_id, name=declaration.name)
    declaration_id = new_id("D")
    pdf: Path | None = None
    error: str | None = None
    try:
        pdf = render_declaration(
            declaration, out or directory / f"{declaration_id}.pdf", reception_id=reception_id
        )
    except (FontMissing, OSError, RuntimeError) as exc:
        error = f"{getattr(exc, 'title', 'PDFを作れませんでした')}: {exc}"
    try:
        store.add_declaration(
            declaration,
            reception_id=reception_id,
            pdf=pdf,
            actor=actor,
            declaration_id=declaration_id,
            settles=True,
        )
    except BaseException:
        if pdf is not None:  # the form of a declaration never stored
            pdf.unlink(missing_ok=True)
        raise
    return FiledDeclaration(declaration_id, pdf, error)


class LadderRefused(InputError):
    """A ladder action this reception must not take: it is settled, or the form names
    another patient (the words of :func:`reception.target.refusal`)."""

    title = "この受付には記録できません"

    def __init__(self, why: str, target: LadderTarget) -> None:
        super().__init__(why)
        self.target = target  # the reception as it stood when refused


def check_target(store: Store, reception_id: str, *, name: str | None = None) -> LadderTarget:
    """The reception a ladder action is about to act on — NotFound when there is none,
    :class:`LadderRefused` when :func:`reception.target.refusal` says it must not, or
    while a check-in still reads its card (what it ends with would overwrite the rung)."""
    target = ladder_target(store, reception_id)
    why = refusal(target, name=name)
    if why is None and target.status is ReceptionStatus.IN_PROGRESS:
        why = f"受付 {reception_id} はまだ読み取り中です: 終わってから記録してください"
    if why is not None:
        raise LadderRefused(why, target)
    return target


class MedicalAidCase(InputError):
    """A ladder step that does not fit 医療扶助 (the 福祉事務所 is the contact)."""

    title = "医療扶助の方です"


MEDICAL_AID_NO_DECLARATION = (
    "医療扶助（生活保護）の方に被保険者資格申立書は使えません: "
    "福祉事務所に連絡し、医療券（紙でも可）の発行を依頼してください"
)


def declaration_refusal(store: Store, reception_id: str | None) -> str | None:
    """Why this reception's patient cannot declare a qualification (None: they can) —
    a 医療扶助 recipient, whose contact is the 福祉事務所."""
    if reception_id is None:
        return None
    results = [r for r in store.results_of(reception_id) if r.entries]
    if results and any(e.medical_aid for e in results[-1].entries):
        return MEDICAL_AID_NO_DECLARATION
    return None


SETTLING_RUNGS = {
    LadderStep.NOTICE: ReceptionStatus.CONFIRMED_NOTICE,
    LadderStep.PORTAL: ReceptionStatus.CONFIRMED_NOTICE,
}
"""Rungs recorded by what staff saw that settle the visit (oqs.md §6 rung 1: the card
together with the 資格情報のお知らせ or the マイナポータル 資格情報 screen counts as the
confirmation). A 資格確認書 or a 申立書 noted by hand does not: the 資格確認書 is
queried by number (:func:`confirm_by_number`), the 申立書 filed (:func:`file_declaration`)."""

SHARE_SEEN = re.compile(r"[1-3１-３一二三]\s*割")
"""The 負担割合 in what staff wrote (「3割」, 「３割」, 「三割」)."""


def record_rung(
    store: Store,
    reception_id: str,
    step: LadderStep,
    detail: str,
    *,
    actor: str = "staff",
    seen: NoticeSeen | None = None,
    day: dt.date | None = None,
) -> ReceptionStatus | None:
    """Record what staff saw on a rung (お知らせ, マイナポータル …) and return the status
    it settled the reception with (None: a note that settles nothing).

    InputError when they wrote nothing; NotFound for an unknown reception;
    :class:`LadderRefused` for a settled one. A rung that settles the visit must say the
    負担割合 seen — the visit is billed at it, and the お知らせ states it beside 記号・番号
    (e.g. 中央大学健康保険組合「資格情報のお知らせ」: 記号・番号・枝番や負担割合等の資格情報,
    https://sites.google.com/g.chuo-u.ac.jp/chuo-u-kenpo/procedure/shikaku-joho): the
    detail stays the record of what was seen, so no separate field is kept.

    The お知らせ of a 70+ patient expires (7/31): ``seen`` gives its printed 有効期限 (and
    the birth date where the reception does not know it), checked on the rules' ``day``
    (:func:`reception.ladder_rules.check_notice`; default: today, JST)."""
    detail = detail.strip()
    if not detail:
        raise InputError("確認した内容を書いてください（例: 資格情報のお知らせ 協会けんぽ 3割）")
    check_target(store, reception_id)
    settles = SETTLING_RUNGS.get(step)
    if settles is not None and not SHARE_SEEN.search(detail):
        raise InputError(
            f"{step.value}で見た負担割合も書いてください（例: {step.value} 協会けんぽ 3割）"
        )
    if step is LadderStep.NOTICE:
        check_notice(store, reception_id, seen or NoticeSeen(), day or now_jst().date())
    store.record_step(reception_id, step, detail, actor=actor, settles=settles)
    return settles


@dataclass(frozen=True)
class NumberAnswer:
    """A 資格確認書 query: accepted only when the qualification is valid and the document
    has not passed its 有効期限; ``verdict`` is what staff read."""

    reception_id: str
    result: QualificationResult
    accepted: bool
    verdict: str


async def confirm_by_number(
    client: OqsClient,
    store: Store,
    query: NumberQuery,
    *,
    reception_id: str | None = None,
    actor: str = "staff",
    day: dt.date | None = None,
) -> NumberAnswer:
    """The 資格確認書 rung: query the service by number and record it — on the given
    reception (its result added), or on a new one that ends with the answer. Accepted,
    either reception is ``confirmed-certificate`` (確認済（資格確認書）); not accepted, a
    given reception stays as it was and a new one ends as ``fallback``. A settled
    reception is refused before anything is sent. A failure of the service ends a new
    reception as pending (or error) and is raised. ``day``: the rules' day on which the
    資格確認書 must still be valid (``reception --today``; None: the service's day)."""
    rid, result = await query_by_number(client, store, query, reception_id, actor)
    expired = kakunin.expired_on(result, day)
    accepted = result.confirmed and expired is None
    why = None if accepted else result.validity_label
    if expired is not None:
        why = kakunin.refusal(expired)
    detail = f"番号で照会: {why or result.validity_label}"
    record_number_answer(
        store,
        rid,
        LadderStep.CERTIFICATE,
        detail,
        result,
        accepted=accepted,
        why=why,
        new=reception_id is None,
        actor=actor,
    )
    return NumberAnswer(rid, result, accepted, why or result.validity_label)


async def query_by_number(
    client: OqsClient, store: Store, query: NumberQuery, reception_id: str | None, actor: str
) -> tuple[str, QualificationResult]:
    """A rung's query by number, on the given reception (refused when it is settled, before
    anything is sent) or a new one: the reception's id and the service's answer. A failure
    of the service ends a new reception as pending (or error) and is raised."""
    if reception_id is not None:
        check_target(store, reception_id)
    rid = reception_id if reception_id is not None else store.begin_reception(actor=actor)
    try:
        return rid, await client.confirm_number(query)
    except OqsError as exc:
        if reception_id is None:
            status = ReceptionStatus.PENDING if exc.fallback else ReceptionStatus.ERROR
            reason = exc.staff_message
            store.finish_reception(rid, status=status, reason=reason, method=ReceptionMethod.NUMBER)
        raise


def record_number_answer(
    store: Store,
    rid: str,
    step: LadderStep,
    detail: str,
    result: QualificationResult,
    *,
    accepted: bool,
    why: str | None,
    new: bool,
    actor: str,
) -> None:
    """Record a rung's answer by number: a new reception ends with it
    (``confirmed-certificate`` when accepted, else ``fallback``); a given one gets the
    rung, the answer and (accepted) the status in one transaction."""
    if new:
        store.record_step(rid, step, detail, actor=actor)
        status = ReceptionStatus.CONFIRMED_CERTIFICATE if accepted else ReceptionStatus.FALLBACK
        store.finish_reception(
            rid, status=status, method=ReceptionMethod.NUMBER, result=result, reason=why
        )
    else:
        settles = ReceptionStatus.CONFIRMED_CERTIFICATE if accepted else None
        store.record_step(rid, step, detail, actor=actor, settles=settles, result=result)


def record_no_card(store: Store, reception_id: str | None = None, *, actor: str = "staff") -> str:
    """A patient with neither マイナ保険証 nor 資格確認書 (oqs.md §6): not a 申立書 case —
    10割 now, the refund claimed from the insurer later. Recorded on the reception (or a
    new one), which ends as ``self-pay`` — refused for a settled reception."""
    if reception_id is not None:
        check_target(store, reception_id)
        store.record_step(
            reception_id,
            LadderStep.NO_CARD,
            NO_CARD_MESSAGE,
            actor=actor,
            settles=ReceptionStatus.SELF_PAY,
            reason=NO_CARD_MESSAGE,
            fallback_reason=FallbackReason.NO_CARD,
        )
        return reception_id
    rid = store.begin_reception(actor=actor)
    store.record_step(rid, LadderStep.NO_CARD, NO_CARD_MESSAGE, actor=actor)
    store.finish_reception(
        rid,
        status=ReceptionStatus.SELF_PAY,
        reason=NO_CARD_MESSAGE,
        fallback_reason=FallbackReason.NO_CARD,
        actor=actor,
    )
    return rid


def declaration_prefill(store: Store, reception_id: str | None) -> dict[str, str]:
    """The 申立書 form's first values: today, and the reason of the reception as stored
    (not the terminal's last check-in)."""
    reason = FallbackReason.NO_MATCH
    if reception_id is not None:
        reason = store.reception(reception_id).fallback_reason or reason
    return {"declared_on": now_jst().date().isoformat(), "reason": reason.label}
