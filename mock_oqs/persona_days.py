"""A persona's qualifications on the world's days: a :class:`~mock_oqs.personas.Cover`
(days relative to the reference day) made a :class:`Held` (dates), the 75th birthday
played out (:func:`aged`), and the certificates' dates (:func:`with_certificate_dates`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from mock_oqs.personas import KOKI, Cover, Expectation
from mock_oqs.registry import Qualification
from mock_oqs.rules import late_elderly_from


@dataclass(frozen=True, slots=True)
class Held:
    """A :class:`Cover` on the world's days, before its numbers are drawn."""

    insurer_number: str
    personal_family: str
    qualification_date: dt.date
    registered_on: dt.date
    card_classification: str = "01"
    number: str | None = None
    disqualification_date: dt.date | None = None
    reason_of_loss: str | None = None
    ratio_percent: int | None = None
    active_income: bool = False
    limit_certificate_class: str | None = None
    limit_application_class: str | None = None
    specific_disease: str | None = None
    issued_on: dt.date | None = None
    expires_on: dt.date | None = None
    limit_from: dt.date | None = None
    limit_until: dt.date | None = None
    specific_disease_from: dt.date | None = None
    specific_disease_self_pay: int | None = None

    def qualification(
        self, person_id: str, symbol: str, number: str, branch: str, insured_name: str
    ) -> Qualification:
        return Qualification(
            person_id=person_id,
            insurer_number=self.insurer_number,
            symbol=symbol,
            number=number,
            branch=branch,
            personal_family=self.personal_family,
            insured_name=insured_name,
            card_classification=self.card_classification,
            qualification_date=self.qualification_date,
            registered_on=self.registered_on,
            disqualification_date=self.disqualification_date,
            reason_of_loss=self.reason_of_loss,
            ratio_percent=self.ratio_percent,
            active_income=self.active_income,
            limit_certificate_class=self.limit_certificate_class,
            limit_application_class=self.limit_application_class,
            specific_disease=self.specific_disease,
            issued_on=self.issued_on,
            expires_on=self.expires_on,
            limit_from=self.limit_from,
            limit_until=self.limit_until,
            specific_disease_from=self.specific_disease_from,
            specific_disease_self_pay=self.specific_disease_self_pay,
        )


def held_on(cover: Cover, today: dt.date) -> Held:
    day = dt.timedelta(days=1)
    return Held(
        insurer_number=cover.insurer,
        personal_family=cover.personal_family,
        qualification_date=today + cover.qualified * day,
        registered_on=today + cover.registered * day,
        card_classification=cover.card_classification,
        number=cover.number,
        disqualification_date=days_from(today, cover.lost),
        reason_of_loss=cover.reason_of_loss,
        ratio_percent=cover.ratio_percent,
        active_income=cover.active_income,
        limit_certificate_class=cover.limit_certificate_class,
        limit_application_class=cover.limit_application_class,
        specific_disease=cover.specific_disease,
        issued_on=days_from(today, cover.issued),
        expires_on=days_from(today, cover.expires),
    )


def aged(held: list[Held], birth: dt.date, person_id: str) -> list[Held]:
    """The qualifications as the insurers have them, the 75th birthday included: there the
    open qualification of any other insurer ends (喪失, 事由 03) and 後期高齢者医療 starts,
    1割 — or 3割 for a 現役並み earner, who stays 3割 — registered two weeks before."""
    if all(h.card_classification == "A1" for h in held):
        return held  # 医療扶助 is the 福祉事務所's: no insurer's plan for 75
    open_ = [h for h in held if h.insurer_number != KOKI and h.disqualification_date is None]
    if not open_ or any(h.insurer_number == KOKI for h in held):
        return held
    turning = late_elderly_from(birth)
    planned = [
        replace(h, disqualification_date=turning, reason_of_loss="03") if h in open_ else h
        for h in held
    ]
    active = any(h.active_income for h in open_)
    planned.append(
        Held(
            insurer_number=KOKI,
            personal_family="1",
            qualification_date=turning,
            registered_on=turning - dt.timedelta(days=14),
            ratio_percent=30 if active else 10,
            active_income=active,
            number=f"{int(person_id[1:]):08d}",
        )
    )
    return planned


def with_certificate_dates(held: Held, today: dt.date) -> Held:
    """A 限度額適用認定証 runs from 1 August to 31 July (the insurers' income year); a
    特定疾病療養受療証 from the qualification, without an end, 10,000 yen a month."""
    if held.limit_application_class and held.limit_from is None:
        year = today.year if today >= dt.date(today.year, 8, 1) else today.year - 1
        held = replace(held, limit_from=dt.date(year, 8, 1), limit_until=dt.date(year + 1, 7, 31))
    if held.specific_disease and held.specific_disease_from is None:
        held = replace(
            held,
            specific_disease_from=held.qualification_date,
            specific_disease_self_pay=held.specific_disease_self_pay or 10_000,
        )
    return held


def days_from(today: dt.date, days: int | None) -> dt.date | None:
    """The day ``days`` after ``today`` (None stays None)."""
    return None if days is None else today + dt.timedelta(days=days)


def printed_on_old_card(expect: Expectation, numbers: dict[str, str]) -> Expectation:
    """A persona's old 保険証 with the numbers printed on it: those of its current
    qualification (the 記号・番号 outlive the card), as ``world.json`` gives them."""
    if expect.old_card is None:
        return expect
    keys = ("insurer_number", "symbol", "number", "branch")
    printed = {key: numbers[f"current_{key}"] for key in keys}
    return replace(expect, old_card={**expect.old_card, **printed})
