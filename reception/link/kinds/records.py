"""薬剤情報 (``YZKsiquc01req``) and 特定健診情報 (``TKKsiquc01req``) of a patient who
consented at this clinic (24 h after the card confirmation), as the public clinic program
YUKI-ENT/OQSDrug2 writes the requests and reads the answers (``OQSDrug/Form1.cs``).

**The request** (``GenerateXML``; ``MakeReq`` chooses the kind): Shift_JIS, declared
``<?xml version="1.0" encoding="Shift_JIS" standalone="no"?>``, named
``<YZK|TKK>siquc01req_<FileCategory, 2 digits><yyMMddHHmm><patient id>.xml``. The patient
is named in ``MessageHeader`` — ``MedicalInstitutionCode``, ``InsurerNumber``,
``InsuranceCardSymbol``, ``InsuredPersonIdentificationNumber``, ``BranchNumber``,
``ArbitraryFileIdentifier`` (its patient id), in that order; no birth date, no
``CharacterCodeIdentifier`` — and ``MessageBody`` holds ``StartDate`` and ``EndDate``
(薬剤情報 only: months, ``yyyyMM``; a 特定健診 request has neither), ``FileCategory``,
``PrDiInfClassification`` (always 1) and ``MedicalTreatmentFlag`` (1; 2 and 3 for
its 照会区分 B and C). ``FileCategory`` is the last digit of its request kind: 1 PDF and
2 XML of 薬剤情報 (11, 12), 3 PDF and 4 XML of 薬剤・診療情報 (13, 14), 1 PDF and 2 XML of
特定健診情報 (101, 102). We also take dates as ``yyyyMMdd``; a request without dates gets the
service's whole window (薬剤情報 3 years, 診療情報 and 特定健診 5 years).

**The answer** (``ProcessResAsync``): matched by name — the request's with ``req`` → ``res``
and ``.xml`` or ``.pdf`` — and loaded with ``XmlDocument.Load`` (the encoding its
declaration names: we write the link's usual, UTF-8 unless the request's header says
``CharacterCodeIdentifier`` 1). It reads ``//ResultCode``: 1 is a file to import, anything
else files ``//MessageContents`` as the reason. Where they sit and the codes other than 1
are our choice (not public): both in ``MessageHeader``; ``ResultCode`` 2 when the period
holds no records, 9 when the request is refused (with the link's ``ErrorCode`` /
``ErrorMessage`` and ``SegmentOfResult`` 9 beside them). ``FileCategory`` 1 and 3 are
answered by a PDF (:mod:`~reception.link.kinds.records_pdf`); a refusal is XML all the
same, as OQSDrug2 reads it. The XML bodies are :mod:`~reception.link.kinds.records_yzk`
(``ProcessDrugInfoAsync2``) and :mod:`~reception.link.kinds.records_tkk`
(``ProcessTKKAsync``).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reception.fonts import FontMissing
from reception.link.kinds import records_pdf, records_tkk, records_yzk
from reception.link.request import text
from reception.link.terms import Answer, Handler, LinkError, Reply, service_error
from reception.oqs_client import OqsClient, OqsError, OqsRefused, PatientKey
from reception.verdict import Refusal

FOUND, NONE_FOUND, REFUSED = "1", "2", "9"  # ResultCode (only 1 is read by its meaning)


@dataclass(frozen=True)
class Kind:
    prefix: str
    label: str  # what the clinic reads: 薬剤情報, 特定健診情報
    records: str  # the service's kind
    categories: dict[str, str]  # FileCategory → what it asks for
    years: int  # how far back the service shows them


YZK = Kind(
    "YZKsiquc01req",
    "薬剤情報",
    "medications",
    {"1": "薬剤情報PDF", "2": "薬剤情報XML", "3": "薬剤・診療情報PDF", "4": "薬剤・診療情報XML"},
    3,
)
TKK = Kind("TKKsiquc01req", "特定健診情報", "checkups", {"1": "特定健診PDF", "2": "特定健診XML"}, 5)


@dataclass(frozen=True)
class Asked:
    """What a request asks: whose records, which file, which months."""

    patient: PatientKey
    category: str
    start: dt.date | None
    end: dt.date | None
    clinic: str  # MedicalInstitutionCode: the asking clinic's own records are 自院

    @property
    def pdf(self) -> bool:
        return self.category in ("1", "3")

    @property
    def with_treatments(self) -> bool:  # 薬剤・診療情報
        return self.category in ("3", "4")

    def holds(self, day: str) -> bool:
        when = dt.date.fromisoformat(day)
        return (self.start is None or when >= self.start) and (self.end is None or when <= self.end)


def _date(body: dict[str, Any], name: str, *, end: bool) -> dt.date | None:
    """``yyyyMM`` (as OQSDrug2 writes it: a whole month) or ``yyyyMMdd``."""
    value = text(body, name)
    if value is None:
        return None
    try:
        if len(value) == 6 and value.isdigit():
            first = dt.datetime.strptime(value, "%Y%m").date()
            days = calendar.monthrange(first.year, first.month)[1]
            return first.replace(day=days) if end else first
        if len(value) == 8 and value.isdigit():
            return dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        pass
    raise LinkError(
        "LINK-E003", f"MessageBody/{name} は年月 YYYYMM（または YYYYMMDD）です（{value!r}）"
    )


def read_request(request: dict[str, Any], kind: Kind) -> Asked:
    """The patient (``MessageHeader``) and what is asked (``MessageBody``); LINK-E003 names
    what is missing or malformed."""
    header = request.get("MessageHeader")
    header = header if isinstance(header, dict) else {}
    for name in ("InsurerNumber", "InsuredPersonIdentificationNumber"):
        if text(header, name) is None:
            raise LinkError(
                "LINK-E003",
                f"MessageHeader/{name} がありません（{kind.label}の要求は患者を MessageHeader の "
                "InsurerNumber・InsuranceCardSymbol・InsuredPersonIdentificationNumber・"
                "BranchNumber で指定します）",
            )
    body = request.get("MessageBody")
    body = body if isinstance(body, dict) else {}
    category = text(body, "FileCategory")
    if category is None:
        raise LinkError("LINK-E003", "MessageBody/FileCategory がありません")
    if category.lstrip("0") not in kind.categories:
        choices = "、".join(f"{k}（{v}）" for k, v in kind.categories.items())
        raise LinkError(
            "LINK-E003", f"{kind.label}の FileCategory は {choices}のいずれかです（{category!r}）"
        )
    flag = text(body, "MedicalTreatmentFlag")
    if flag is not None and flag not in ("1", "2", "3"):
        raise LinkError(
            "LINK-E003", f"MessageBody/MedicalTreatmentFlag は 1・2・3 です（{flag!r}）"
        )
    start, end = _date(body, "StartDate", end=False), _date(body, "EndDate", end=True)
    if start is not None and end is not None and start > end:
        first, last = text(body, "StartDate"), text(body, "EndDate")
        raise LinkError("LINK-E003", f"StartDate（{first}）が EndDate（{last}）より後です")
    patient = PatientKey(
        insurer_number=text(header, "InsurerNumber") or "",
        symbol=text(header, "InsuranceCardSymbol") or "",
        number=text(header, "InsuredPersonIdentificationNumber") or "",
        branch=text(header, "BranchNumber") or "",
    )
    clinic = text(header, "MedicalInstitutionCode") or ""
    return Asked(patient, category.lstrip("0"), start, end, clinic)


def _refusal(exc: OqsError, kind: Kind, asked: Asked) -> LinkError:
    """What the service said, in the clinic's words: the consent and the patient named for
    these records, the rest as for every request (:func:`service_error`)."""
    reason = exc.reason if isinstance(exc, OqsRefused) else None
    if reason is Refusal.NO_CONSENT:
        return LinkError(
            "LINK-E006",
            f"この医療機関での{kind.label}の閲覧同意がありません（マイナ保険証での受付時に同意を得てください）",
        )
    if reason is Refusal.CONSENT_EXPIRED:
        return LinkError(
            "LINK-E006",
            f"{kind.label}の閲覧同意の有効期限（同意から24時間）が過ぎました（次の受付で改めて同意を得てください）",
        )
    if reason is Refusal.NO_SUCH_QUALIFICATION:
        several = (
            ""
            if asked.patient.branch
            else "、または同じ番号の方が複数います（BranchNumber で一人に絞れます）"
        )
        return LinkError(
            "LINK-E003", f"この保険者番号・記号・番号の被保険者が見つかりません{several}"
        )
    return service_error(exc)


def _refused(error: LinkError) -> Answer:
    """A refusal as OQSDrug2 files it (``ResultCode`` ≠ 1, ``MessageContents``), with the
    link's ``SegmentOfResult`` 9 and ``ErrorCode`` / ``ErrorMessage``."""

    def shape(usual: dict[str, Any]) -> dict[str, Any]:
        head = {k: v for k, v in usual.items() if k != "ReferenceClassification"}
        return head | {
            "ErrorCode": error.code,
            "ErrorMessage": error.message,
            "ResultCode": REFUSED,
            "MessageContents": error.message,
        }

    return Answer({}, segment="9", shape=shape, summary=f"{error.code} {error.message}")


def _found(
    result: str, contents: str | None, patient: dict[str, Any]
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def shape(usual: dict[str, Any]) -> dict[str, Any]:
        head = {k: v for k, v in usual.items() if k != "ReferenceClassification"}
        return head | {"ResultCode": result, "MessageContents": contents} | patient

    return shape


def _period(asked: Asked, kind: Kind) -> str:
    if asked.start is None and asked.end is None:
        return f"提供期間（{kind.years}年）"
    start = f"{asked.start:%Y年%m月}" if asked.start else f"提供期間（{kind.years}年）の初め"
    end = f"{asked.end:%Y年%m月}" if asked.end else "現在"
    return f"{start}〜{end}"


async def _fetch(
    client: OqsClient, kind: Kind, asked: Asked
) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """The patient, the records of the period and (薬剤・診療情報) the treatments."""
    try:
        person, rows = await client.records_of(asked.patient, kind.records)
        treatments: list[dict[str, Any]] = []
        if asked.with_treatments:
            treatments = (await client.records_of(asked.patient, "diagnoses"))[1]
    except OqsError as exc:
        raise _refusal(exc, kind, asked) from None
    date = "examined_on" if kind is TKK else "dispensed_on"
    rows = [r for r in rows if asked.holds(r[date])]
    return person, rows, [t for t in treatments if asked.holds(t["treated_on"])]


def _handler(kind: Kind) -> Handler:
    async def answer(client: OqsClient, request: dict[str, Any]) -> Answer | Reply:
        try:
            asked = read_request(request, kind)
            person, rows, treatments = await _fetch(client, kind, asked)
            if not rows and not treatments:
                contents = f"{_period(asked, kind)}の{kind.label}はありません"
                shape = _found(NONE_FOUND, contents, {})
                return Answer({}, shape=shape, summary=contents)
            count = f"{kind.label} {len(rows)}件（{_period(asked, kind)}）"
            if asked.pdf:
                try:
                    period = _period(asked, kind)
                    data = records_pdf.render(kind.label, person, rows, treatments, period)
                except FontMissing as exc:
                    raise LinkError("LINK-E005", f"PDF を作れません: {exc}") from None
                return Reply(data, suffix=".pdf", summary=count)
        except LinkError as exc:
            return _refused(exc)
        if kind is TKK:
            head, body = records_tkk.answer(person, rows)
        else:
            head, body = records_yzk.answer(person, rows, treatments, asked.clinic)
        return Answer(body, shape=_found(FOUND, None, head), summary=count)

    return answer


HANDLERS: dict[str, Handler] = {YZK.prefix: _handler(YZK), TKK.prefix: _handler(TKK)}
