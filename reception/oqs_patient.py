"""A patient named by the numbers of a qualification alone (:class:`PatientKey`), as the
clinic software's 照会番号 and YZK / TKK requests name one; :mod:`reception.oqs_client`
sends it (and exports it)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


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
