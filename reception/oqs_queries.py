"""What the terminal names a patient by in a request to the qualification service: the
numbers of a qualification alone (:class:`PatientKey`), or with the birth date as a
confirmation by number asks (:class:`NumberQuery`); and what a 照会番号 registration
answers (:class:`ReferenceOutcome`). Re-exported by :mod:`reception.oqs_client`."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reception.results import QualificationEntry


class PatientKey(BaseModel):
    """A patient named by the numbers of a qualification alone, the birth date where the
    request has one: how the clinic software's 照会番号 and YZK / TKK requests name one
    (oqs.md §7); the service needs the numbers to lead to one person."""

    model_config = ConfigDict(frozen=True)

    insurer_number: str
    symbol: str = ""
    number: str
    branch: str = ""
    birth_date: dt.date | None = None

    def patient(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "insurer_number": self.insurer_number,
            "symbol": self.symbol,
            "number": self.number,
        }
        if self.branch:
            body["branch"] = self.branch
        if self.birth_date is not None:
            body["birth_date"] = self.birth_date.strftime("%Y%m%d")
        return body


class NumberQuery(BaseModel):
    """A confirmation by the numbers of a 資格確認書 (or a 申立書's): the request body of
    ``POST /v1/confirmations/number``."""

    model_config = ConfigDict(frozen=True)

    insurer_number: str
    symbol: str = ""
    number: str
    branch: str = ""
    birth_date: dt.date
    limit_consent: bool = False
    arbitrary_file_identifier: str | None = None  # echoed in the answer's header

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "insurer_number": self.insurer_number,
            "symbol": self.symbol,
            "number": self.number,
            "birth_date": self.birth_date.strftime("%Y%m%d"),
            "limit_consent": self.limit_consent,
        }
        if self.branch:
            body["branch"] = self.branch
        if self.arbitrary_file_identifier:
            body["arbitrary_file_identifier"] = self.arbitrary_file_identifier
        return body

    @classmethod
    def of_entry(cls, entry: QualificationEntry) -> NumberQuery:
        """The numbers of a qualification in a result (to fetch records, register 照会番号)."""
        birth = entry.birthdate or ""
        try:
            day = dt.datetime.strptime(birth, "%Y%m%d").date()
        except ValueError:
            raise ValueError(f"the result has no usable birth date ({birth!r})") from None
        return cls(
            insurer_number=(entry.insurer_number or "").strip(),
            symbol=entry.insured_card_symbol or "",
            number=entry.insured_identification_number or "",
            branch=entry.insured_branch_number or "",
            birth_date=day,
        )

    def patient(self) -> dict[str, Any]:
        """The numbers alone: how records and 照会番号 requests name a patient."""
        return {
            k: v
            for k, v in self.body().items()
            if k not in ("limit_consent", "arbitrary_file_identifier")
        }


class ReferenceOutcome(BaseModel):
    """One 照会番号 registration's outcome as the service answers it, in the shape the
    clinic's result file carries it: the registration as asked
    (``ReferenceNumberRegistrationInfo``), ``ProcessingResultStatus`` 1, or 2 with
    ``ProcessingResultCode`` / ``ProcessingResultMessage`` (why it was not made)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    info: dict[str, str] = Field(alias="ReferenceNumberRegistrationInfo")
    status: Literal["1", "2"] = Field(alias="ProcessingResultStatus")
    code: str | None = Field(default=None, alias="ProcessingResultCode")
    message: str | None = Field(default=None, alias="ProcessingResultMessage")

    def unit(self) -> dict[str, Any]:
        """As the answer's elements, in their order; absent ones left out."""
        return self.model_dump(by_alias=True, exclude_none=True)
