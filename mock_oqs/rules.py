"""Rules of qualification confirmation (oqs.md §4), as pure functions.

- 保険者番号 and its check digit;
- 負担割合 by age on the visit date;
- the e-certificate's renewal notice and grace period after expiry.

Ages: Japanese law (年齢計算ニ関スル法律) has a person reach an age at the end
of the day *before* the birthday. The 未就学 and 70-year rules count from that
day (which is why a birthday on the 1st moves the 高齢受給者 start into the
birthday month itself); 後期高齢者医療 starts on the 75th birthday itself.
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from dataclasses import dataclass


class RuleInputError(ValueError):
    """An input does not follow the rule's format; the message says how."""


# --- 保険者番号 ----------------------------------------------------------------------


def insurer_check_digit(digits: str) -> int:
    """Check digit over the digits before it (oqs.md §4).

    From the rightmost digit, multiply by 2, 1, 2, 1, …; add the products digit
    by digit (12 adds 1 + 2); the check digit is ``(10 − sum mod 10) mod 10``.
    """
    if not digits or not digits.isascii() or not digits.isdigit():
        raise RuleInputError(f"expected digits, got {digits!r}")
    total = 0
    for position, ch in enumerate(reversed(digits)):
        product = int(ch) * (2 if position % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


LAW_NAMES = {
    "01": "協会けんぽ",
    "06": "組合健保",
    "31": "共済",
    "32": "共済",
    "33": "共済",
    "34": "共済",
    "39": "後期高齢者医療",
}


@dataclass(frozen=True, slots=True)
class InsurerNumber:
    """A validated 保険者番号: 8 digits, or 6 for 国民健康保険 (no 法別番号)."""

    digits: str

    @property
    def is_national_health_insurance(self) -> bool:
        return len(self.digits) == 6

    @property
    def law(self) -> str | None:
        """法別番号 (None for 国保)."""
        return None if self.is_national_health_insurance else self.digits[:2]

    @property
    def prefecture(self) -> str:
        return self.digits[-6:-4]

    @property
    def padded(self) -> str:
        """As in result messages: a 6-digit 国保 number left-padded with spaces to 8."""
        return self.digits.rjust(8)

    @classmethod
    def parse(cls, text: str) -> InsurerNumber:
        """Accept 6 or 8 digits (surrounding spaces allowed); check the check digit."""
        digits = text.strip()
        if not digits:
            raise RuleInputError("保険者番号 is empty (8 digits, 6 for 国民健康保険)")
        if not digits.isascii() or not digits.isdigit():
            raise RuleInputError(f"保険者番号 must be digits only, got {text!r}")
        if len(digits) not in (6, 8):
            raise RuleInputError(
                f"保険者番号 has 8 digits (6 for 国民健康保険), got {len(digits)}: {text!r}"
            )
        expected = insurer_check_digit(digits[:-1])
        if int(digits[-1]) != expected:
            raise RuleInputError(
                f"保険者番号 {digits}: check digit is {digits[-1]}, expected {expected} "
                "(typing error?)"
            )
        prefecture = int(digits[-6:-4])
        if not 1 <= prefecture <= 47:
            raise RuleInputError(f"保険者番号 {digits}: 都道府県番号 {digits[-6:-4]} is not 01–47")
        return cls(digits)


# --- ages and 負担割合 -----------------------------------------------------------------


def _birthday(birth: dt.date, year: int) -> dt.date:
    try:
        return birth.replace(year=year)
    except ValueError:  # 29 February in a common year: the birthday is 1 March
        return dt.date(year, 3, 1)


def reaching_date(birth: dt.date, age: int) -> dt.date:
    """The day a person legally reaches ``age``: the day before that birthday."""
    return _birthday(birth, birth.year + age) - dt.timedelta(days=1)


def age_on(birth: dt.date, day: dt.date) -> int:
    """Completed years on ``day``, counted by birthdays (as staff read an age)."""
    if day < birth:
        raise RuleInputError(f"visit date {day} is before the birth date {birth}")
    years = day.year - birth.year
    if day < _birthday(birth, day.year):
        years -= 1
    return years


def preschool_until(birth: dt.date) -> dt.date:
    """Last day of 未就学: the first 31 March on or after reaching age 6."""
    reached = reaching_date(birth, 6)
    march = dt.date(reached.year, 3, 31)
    return march if reached <= march else dt.date(reached.year + 1, 3, 31)


def elderly_recipient_from(birth: dt.date) -> dt.date:
    """First day of 高齢受給者 (70–74): the 1st of the month after reaching 70."""
    reached = reaching_date(birth, 70)
    if reached.month == 12:
        return dt.date(reached.year + 1, 1, 1)
    return dt.date(reached.year, reached.month + 1, 1)


def late_elderly_from(birth: dt.date) -> dt.date:
    """First day of 後期高齢者医療: the 75th birthday itself."""
    return _birthday(birth, birth.year + 75)


class AgeBracket(enum.StrEnum):
    PRESCHOOL = "未就学"
    GENERAL = "一般"
    ELDERLY_RECIPIENT = "高齢受給者"
    LATE_ELDERLY = "後期高齢者"


@dataclass(frozen=True, slots=True)
class Ratio:
    """負担割合 in percent (20 = 2割) and the bracket it came from."""

    percent: int
    bracket: AgeBracket
    stated_by_insurer: bool = False

    @property
    def label(self) -> str:
        return f"{self.percent // 10}割"

    @property
    def code(self) -> str:
        """As in InsuredPartialContributionRatio: 3 digits, "030" = 3割."""
        return f"{self.percent:03d}"


def copayment_ratio(
    birth: dt.date,
    visit: dt.date,
    *,
    active_income: bool = False,
    insurer_percent: int | None = None,
) -> Ratio:
    """負担割合 on ``visit`` (oqs.md §4), unless the insurer states it.

    ``active_income``: 現役並み所得 (3割 at 70–74). 後期高齢者医療 has no
    default: the insurer states 1, 2 or 3割; without a statement 1割.
    """
    if insurer_percent is not None and insurer_percent not in (10, 20, 30):
        raise RuleInputError(f"a stated ratio is 10, 20 or 30 percent, got {insurer_percent}")
    if visit < birth:
        raise RuleInputError(f"visit date {visit} is before the birth date {birth}")
    if visit >= late_elderly_from(birth):
        bracket = AgeBracket.LATE_ELDERLY
        default = 10
    elif visit >= elderly_recipient_from(birth):
        bracket = AgeBracket.ELDERLY_RECIPIENT
        default = 30 if active_income else 20
    elif visit <= preschool_until(birth):
        bracket = AgeBracket.PRESCHOOL
        default = 20
    else:
        bracket = AgeBracket.GENERAL
        default = 30
    if insurer_percent is not None:
        return Ratio(insurer_percent, bracket, stated_by_insurer=True)
    return Ratio(default, bracket)


# --- the e-certificate's expiry -------------------------------------------------------


class CertificateState(enum.StrEnum):
    VALID = "valid"
    RENEWAL_DUE = "renewal-due"  # within 3 months before expiry: show a notice
    GRACE = "grace"  # expired, still serves for qualification only
    LAPSED = "lapsed"  # past the grace period: treat as not registered


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def grace_last_day(expiry: dt.date) -> dt.date:
    """Last day of the 3rd month after the month of expiry (2 Dec → 31 Mar)."""
    first_of_third = _add_months(expiry.replace(day=1), 3)
    return first_of_third.replace(
        day=calendar.monthrange(first_of_third.year, first_of_third.month)[1]
    )


def renewal_notice_from(expiry: dt.date) -> dt.date:
    """From 3 months before expiry the terminal shows a renewal notice."""
    return _add_months(expiry, -3)


def certificate_state(expiry: dt.date, today: dt.date) -> CertificateState:
    """Where ``today`` stands against a certificate valid through ``expiry``."""
    if today > expiry:
        return (
            CertificateState.GRACE if today <= grace_last_day(expiry) else (CertificateState.LAPSED)
        )
    if today >= renewal_notice_from(expiry):
        return CertificateState.RENEWAL_DUE
    return CertificateState.VALID
