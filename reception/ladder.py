"""The fallback ladder's use cases (oqs.md §6), for every front end: recording a rung,
the 資格確認書 query by number, and filing a 被保険者資格申立書.

Filing a 申立書: the printed form first, then one transaction that stores the
declaration with its form and queues it for re-verification.

A kill -9 at any moment leaves either nothing (the staff see the form was not saved) or
a declaration with its PDF — never a declaration whose form was lost on the way. A PDF
that cannot be made (no font, a full disk) does not lose the declaration: it is stored
without one and the reason is returned for the staff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reader.clock import now_jst
from reception.declaration import NO_CARD_MESSAGE, LadderStep, SelfDeclaration
from reception.errors import InputError
from reception.oqs_client import NumberQuery, OqsClient, OqsError
from reception.pdf import FontMissing, render_declaration
from reception.reasons import FallbackReason
from reception.results import QualificationResult
from reception.store import ReceptionStatus, Store, new_id
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

    Not for 医療扶助: a 生活保護 recipient is nobody's 被保険者 — the 申立書 declares an
    insurance qualification; the 福祉事務所 issues the 医療券 (:class:`MedicalAidCase`)."""
    refusal = declaration_refusal(store, reception_id)
    if refusal is not None:
        raise MedicalAidCase(refusal)
    declaration_id = new_id("D")
    pdf: Path | None = None
    error: str | None = None
    try:
        pdf = render_declaration(
            declaration, out or directory / f"{declaration_id}.pdf", reception_id=reception_id
        )
    except (FontMissing, OSError, RuntimeError) as exc:
        error = f"{getattr(exc, 'title', 'PDFを作れませんでした')}: {exc}"
    store.add_declaration(
        declaration, reception_id=reception_id, pdf=pdf, actor=actor, declaration_id=declaration_id
    )
    return FiledDeclaration(declaration_id, pdf, error)


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


def record_rung(
    store: Store, reception_id: str, step: LadderStep, detail: str, *, actor: str = "staff"
) -> None:
    """Record what staff saw on a rung (お知らせ, マイナポータル …): InputError when they
    wrote nothing; NotFound for an unknown reception."""
    detail = detail.strip()
    if not detail:
        raise InputError("確認した内容を書いてください（例: 資格情報のお知らせ 協会けんぽ 3割）")
    store.reception(reception_id)
    store.record_step(reception_id, step, detail, actor=actor)


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
) -> NumberAnswer:
    """The 資格確認書 rung: query the service by number and record it — on the given
    reception (its result added), or on a new one that ends with the answer. A failure
    of the service ends a new reception as pending (or error) and is raised."""
    new = reception_id is None
    rid = reception_id if reception_id is not None else store.begin_reception(actor=actor)
    try:
        result = await client.confirm_number(query)
    except OqsError as exc:
        if new:
            status = ReceptionStatus.PENDING if exc.fallback else ReceptionStatus.ERROR
            reason = exc.staff_message
            store.finish_reception(rid, status=status, reason=reason, method=ReceptionMethod.NUMBER)
        raise
    expired = result.expired_document
    accepted = result.confirmed and expired is None
    why = None if accepted else result.validity_label
    if expired is not None:
        why = f"資格確認書の有効期限切れ（{expired[:4]}/{expired[4:6]}/{expired[6:]}）"
    detail = f"番号で照会: {why or result.validity_label}"
    store.record_step(rid, LadderStep.CERTIFICATE, detail, actor=actor)
    if new:
        status = ReceptionStatus.CONFIRMED if accepted else ReceptionStatus.FALLBACK
        store.finish_reception(
            rid, status=status, method=ReceptionMethod.NUMBER, result=result, reason=why
        )
    else:
        store.add_result(rid, result)
    return NumberAnswer(rid, result, accepted, why or result.validity_label)


def record_no_card(store: Store, reception_id: str | None = None, *, actor: str = "staff") -> str:
    """A patient with neither マイナ保険証 nor 資格確認書 (oqs.md §6): not a 申立書 case —
    10割 now, the refund claimed from the insurer later. Recorded on the reception (or a
    new one), which ends as ``self-pay``."""
    rid = reception_id if reception_id is not None else store.begin_reception(actor=actor)
    store.reception(rid)
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
