"""The registry as the service sees it on a day: certificate links and qualifications,
made into the result's typed parts (:mod:`mock_oqs.results`), and cached.

What a card confirmation needs of the registry — the certificate's link to its holder
and the holder's qualifications as entries — changes only when the registry does: a
revocation, a 保険証利用登録, a new world. Each thread's :class:`RegistryView` keeps them
until SQLite's ``PRAGMA data_version`` says another connection (another worker, the
``mock-oqs revoke`` command, this service's own registration writer) committed a change
(https://www.sqlite.org/pragma.html#pragma_data_version: "will be different if changes
were committed to the database by any other connection in the interim"; the value is only
comparable on one connection, hence one view per thread). Checking costs one pragma per
request; a change shows at the next request.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from mock_oqs import period_cases, registry
from mock_oqs.clock import date_of, ymd, ymd_text
from mock_oqs.format import result_kana, result_name, result_post_number
from mock_oqs.results import (
    ElderlyRecipient,
    LimitCertificate,
    MedicalSubsidy,
    MedicalTicket,
    Qualified,
    SpecificDiseaseCertificate,
)
from mock_oqs.rules import (
    AgeBracket,
    InsurerNumber,
    copayment_ratio,
    elderly_recipient_from,
    late_elderly_from,
)
from mock_oqs.state import MMAP_BYTES

CACHED_PERSONS = 4096  # per thread; a clinic's day is a few dozen


@dataclass(frozen=True, slots=True)
class CardLink:
    """A card certificate's entry in the registry: its holder and its state."""

    person_id: str
    persona: str | None
    revoked: bool
    registered: bool
    not_after: dt.date


@dataclass(frozen=True, slots=True)
class Standing:
    """One qualification as the registry has it on a day, for one facility: the entry's
    fixed part and what consents may add to it."""

    qualification_id: int  # the registry's row
    person_id: str
    persona: str | None
    valid: bool  # qualified on the day and not lost
    qualified: Qualified
    notices: tuple[str, ...]  # carried whatever the consents
    limit: LimitCertificate | None  # 限度額適用認定証, with the limit consent
    diseases: tuple[SpecificDiseaseCertificate, ...]  # 特定疾病, with the limit consent
    limit_notices: tuple[str, ...]
    subsidies: tuple[MedicalSubsidy, ...]  # 医療費助成 by card, with that consent
    paper_subsidy: bool  # a 公費 受給者証 on paper (public_expense_note)


_MATCHING = (
    "SELECT q.qualification_id, q.person_id FROM qualifications q "
    "JOIN persons p USING (person_id) WHERE {where} AND q.registered_on <= ? "
    "ORDER BY q.qualification_date"
)
_VISIBLE = (
    "SELECT q.*, p.persona, p.name, p.name_kana, p.sex, p.birth_date, p.address, "
    "p.name_of_other, p.name_of_other_kana, p.sex2, "
    "p.post_number, p.public_expense_note FROM qualifications q "
    "JOIN persons p USING (person_id) WHERE q.person_id = ? AND q.registered_on <= ? "
    "ORDER BY q.qualification_date"
)


class RegistryView:
    """The registry, read-only, for one thread, with its caches (module docstring)."""

    def __init__(self, path: Path) -> None:
        self.conn = registry.connect(path, readonly=True)
        self.conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        self._version = -1
        self._links: dict[str, CardLink | None] = {}
        self._standings: dict[tuple[str, dt.date, str], tuple[Standing, ...]] = {}
        self.insurer_names: dict[str, str] = {}
        self.fresh()

    def fresh(self) -> None:
        """Forget what was cached if the registry changed since (one pragma)."""
        (version,) = self.conn.execute("PRAGMA data_version").fetchone()
        if version != self._version:
            self._version = version
            self._links.clear()
            self._standings.clear()
            self.insurer_names = {
                row["insurer_number"]: row["name"]
                for row in self.conn.execute("SELECT insurer_number, name FROM insurers")
            }

    def link(self, fingerprint: str) -> CardLink | None:
        """The certificate's holder, whether it is revoked or registered (None: no link)."""
        if fingerprint in self._links:
            return self._links[fingerprint]
        row = self.conn.execute(
            "SELECT c.person_id, c.revoked_at, c.registered_at, c.not_after, p.persona "
            "FROM certificates c JOIN persons p USING (person_id) WHERE c.fingerprint = ?",
            (fingerprint,),
        ).fetchone()
        link = (
            None
            if row is None
            else CardLink(
                person_id=row["person_id"],
                persona=row["persona"],
                revoked=row["revoked_at"] is not None,
                registered=row["registered_at"] is not None,
                not_after=dt.date.fromisoformat(row["not_after"]),
            )
        )
        self._links[fingerprint] = link
        return link

    def standings(self, person_id: str, today: dt.date, facility: str) -> tuple[Standing, ...]:
        """The person's qualifications the service sees today (cached)."""
        key = (person_id, today, facility)
        found = self._standings.get(key)
        if found is None:
            if len(self._standings) >= CACHED_PERSONS:
                self._standings.clear()
            found = self._visible(person_id, today, facility)
            self._standings[key] = found
        return found

    def matching(
        self, where: str, params: tuple[object, ...], today: dt.date, facility: str
    ) -> tuple[Standing, ...]:
        """The visible qualifications a condition names (a lookup by number), each taken
        from its person's cached standings (:meth:`standings`)."""
        rows = self.conn.execute(
            _MATCHING.format(where=where), (*params, today.isoformat())
        ).fetchall()
        return tuple(
            standing
            for row in rows
            for standing in self.standings(row["person_id"], today, facility)
            if standing.qualification_id == row["qualification_id"]
        )

    def _visible(self, person_id: str, today: dt.date, facility: str) -> tuple[Standing, ...]:
        """The person's qualifications as the service sees them today: registered ones only
        (the time lag)."""
        rows = self.conn.execute(_VISIBLE, (person_id, today.isoformat())).fetchall()
        return tuple(self._standing(row, today, facility) for row in rows)

    def _standing(self, row: sqlite3.Row, today: dt.date, facility: str) -> Standing:
        notices: list[str] = []
        qualified = self._qualified(row, today, facility, notices)
        limit_notices: list[str] = []
        limit, diseases = _limit_and_diseases(row, limit_notices)
        lost = date_of(row["disqualification_date"])
        return Standing(
            qualification_id=row["qualification_id"],
            person_id=row["person_id"],
            persona=row["persona"],
            valid=dt.date.fromisoformat(row["qualification_date"]) <= today
            and (lost is None or lost > today),
            qualified=qualified,
            notices=tuple(notices),
            limit=limit,
            diseases=diseases,
            limit_notices=tuple(limit_notices),
            subsidies=self._subsidies(row["person_id"], today),
            paper_subsidy=bool(row["public_expense_note"]),
        )

    def _qualified(
        self, row: sqlite3.Row, today: dt.date, facility: str, notices: list[str]
    ) -> Qualified:
        birth = dt.date.fromisoformat(row["birth_date"])
        insurer = InsurerNumber(row["insurer_number"])
        ratio = copayment_ratio(
            birth,
            today,
            active_income=bool(row["active_income"]),
            insurer_percent=row["ratio_percent"],
        )
        medical_aid = row["card_classification"] == "A1"
        tickets = None
        if medical_aid:  # 医療扶助: the 福祉事務所 pays; the 医療券 says what the patient does
            tickets = self._medical_tickets(row["person_id"], today, facility, notices)
        elif ratio.bracket is AgeBracket.PRESCHOOL:
            notices.append("preschool-ratio")
        elderly = None
        if (
            ratio.bracket is AgeBracket.ELDERLY_RECIPIENT
            and insurer.law != "39"
            and not medical_aid
        ):
            notices.append("elderly-recipient")
            elderly = _elderly_info(row, birth, ratio.code)
        lost = date_of(row["disqualification_date"])
        happened = lost if lost is not None and lost <= today else None
        return Qualified(
            insured_card_classification=row["card_classification"],
            insurer_number=insurer.padded,
            insured_card_symbol=row["symbol"] or None,
            insured_identification_number=row["number"],
            insured_branch_number=row["branch"] or None,
            personal_family_classification=row["personal_family"],
            insured_name=result_name(row["insured_name"] or row["name"]),
            name=result_name(row["name"]),
            name_of_other=result_name(row["name_of_other"]) if row["name_of_other"] else None,
            name_kana=result_kana(row["name_kana"]),
            name_of_other_kana=(
                result_kana(row["name_of_other_kana"]) if row["name_of_other_kana"] else None
            ),
            sex1=row["sex"],
            sex2=row["sex2"],
            birthdate=ymd(birth),
            address=row["address"],
            post_number=result_post_number(row["post_number"]),
            insured_certificate_issuance_date=ymd_text(row["issued_on"]),
            insured_card_valid_date=ymd_text(row["valid_from"]),
            insured_card_expiration_date=ymd_text(row["expires_on"]),
            qualification_date=ymd_text(row["qualification_date"]),
            # a 喪失日 and its 事由 once the loss happened (on or before today). The registry
            # keeps what insurers have planned too — every open non-後期 qualification ends
            # on the holder's 75th birthday (事由 03) — but a 有効 qualification has no
            # DisqualificationDate: clinic software reads the element as the
            # qualification's end (OQSDrug2's importer maps it so), so a planned date there
            # would end every patient's insurance in its records
            disqualification_date=None if happened is None else ymd(happened),
            reason_of_loss=None if happened is None else row["reason_of_loss"],
            # 後期高齢者医療 only; 70–74 in 高齢受給者 info, others by age at the clinic
            insured_partial_contribution_ratio=ratio.code if insurer.law == "39" else None,
            preschool_classification=(
                "1" if ratio.bracket is AgeBracket.PRESCHOOL and not medical_aid else None
            ),
            insurer_name=self.insurer_names.get(row["insurer_number"]),
            elderly_recipient_certificate_info=elderly,
            public_expense_result_list=tickets,
        )

    def _subsidies(self, person_id: str, today: dt.date) -> tuple[MedicalSubsidy, ...]:
        """The person's 医療費助成 受給者証 valid today, as registered for use by card."""
        day = today.isoformat()
        rows = self.conn.execute(
            "SELECT * FROM medical_subsidies WHERE person_id = ? AND valid_from <= ? "
            "AND valid_until >= ? ORDER BY insurer_number",
            (person_id, day, day),
        )
        return tuple(
            MedicalSubsidy(
                medical_subsidy_insurer_number=s["insurer_number"],
                medical_subsidy_recipient_number=s["recipient_number"],
                certification_name=s["certificate_name"],
                medical_subsidy_valid_start_date=ymd_text(s["valid_from"]),
                medical_subsidy_valid_end_date=ymd_text(s["valid_until"]),
                max_copayment_amount=(
                    None if s["copayment_cap"] is None else str(s["copayment_cap"])
                ),
                is_always_reimbursement=s["always_reimbursed"],
            )
            for s in rows
        )

    def _medical_tickets(
        self, person_id: str, today: dt.date, facility: str, notices: list[str]
    ) -> tuple[MedicalTicket, ...]:
        """医療扶助資格確認結果リスト: this month's 医療券 / 調剤券 entrusting this
        institution, whole; if none does, one entry that says so (指定医療機関確認フラグ
        0: 未委託・未登録 — only the entrusted institution sees a ticket's details)."""
        notices.append("medical-aid")
        month = today.strftime("%Y-%m")
        tickets = self.conn.execute(
            "SELECT * FROM medical_tickets WHERE person_id = ? AND treatment_month = ? "
            "ORDER BY ticket_type",
            (person_id, month),
        ).fetchall()
        mine = [t for t in tickets if t["institution_code"] == facility]
        if not mine:
            notices.append("medical-aid-not-designated")
            return (MedicalTicket("1", month.replace("-", ""), "0"),)
        return tuple(period_cases.ticket(t) for t in mine)


class RegistryViews:
    """One :class:`RegistryView` per thread (SQLite connections and data_version are per
    connection)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def view(self) -> RegistryView:
        view: RegistryView | None = getattr(self._local, "view", None)
        if view is None:
            view = RegistryView(self.path)
            self._local.view = view
        return view


def _elderly_info(row: sqlite3.Row, birth: dt.date, ratio_code: str) -> ElderlyRecipient:
    """高齢受給者証: from the 1st after reaching 70 (or joining) to the day before 75."""
    start = max(elderly_recipient_from(birth), dt.date.fromisoformat(row["qualification_date"]))
    return ElderlyRecipient(
        elderly_recipient_certificate_date=ymd(start),
        elderly_recipient_valid_start_date=ymd(start),
        elderly_recipient_valid_end_date=ymd(late_elderly_from(birth) - dt.timedelta(days=1)),
        elderly_recipient_contribution_ratio=ratio_code,
    )


def _limit_and_diseases(
    row: sqlite3.Row, notices: list[str]
) -> tuple[LimitCertificate | None, tuple[SpecificDiseaseCertificate, ...]]:
    """限度額適用認定証 and 特定疾病療養受療証 information, where the insurer has one."""
    limit = None
    if row["limit_application_class"]:
        notices.append(f"limit-{row['limit_application_class']}")
        limit = LimitCertificate(
            limit_application_certificate_classification=row["limit_certificate_class"],
            limit_application_certificate_classification_flag=row["limit_application_class"],
            limit_application_certificate_date=ymd_text(row["limit_from"]),
            limit_application_certificate_valid_start_date=ymd_text(row["limit_from"]),
            limit_application_certificate_valid_end_date=ymd_text(row["limit_until"]),
            limit_application_certificate_long_term_date=ymd_text(row["limit_long_term"]),
        )
    diseases: tuple[SpecificDiseaseCertificate, ...] = ()
    if row["specific_disease"]:
        notices.append(f"specific-disease-{row['specific_disease']}")
        diseases = (
            SpecificDiseaseCertificate(
                specific_diseases_disease_category=row["specific_disease"],
                specific_diseases_certificate_date=ymd_text(row["specific_disease_from"]),
                specific_diseases_valid_start_date=ymd_text(row["specific_disease_from"]),
                specific_diseases_valid_end_date=ymd_text(row["specific_disease_until"]),
                specific_diseases_self_pay=str(row["specific_disease_self_pay"]),
            ),
        )
    return limit, diseases
