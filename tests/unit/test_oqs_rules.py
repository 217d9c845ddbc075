"""Rules of oqs.md §4 on their exact boundary dates, and the code tables."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mock_oqs.codes import (
    Consent,
    LimitApplicationClass,
    QualificationValidity,
    ReasonOfLoss,
    SpecificDisease,
)
from mock_oqs.rules import (
    AgeBracket,
    CertificateState,
    InsurerNumber,
    RuleInputError,
    age_on,
    certificate_state,
    copayment_ratio,
    elderly_recipient_from,
    grace_last_day,
    insurer_check_digit,
    preschool_until,
    renewal_notice_from,
)

D = dt.date


def test_check_digit_example_from_the_spec() -> None:
    assert insurer_check_digit("3312001") == 5
    assert InsurerNumber.parse("33120015").law == "33"


def test_check_digit_adds_product_digits() -> None:
    # 9 × 2 = 18 adds 1 + 8 = 9; 10 − 9 = 1
    assert insurer_check_digit("9") == 1
    assert insurer_check_digit("0000000") == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("33120016", "check digit is 6, expected 5"),
        ("3312001", "8 digits"),
        ("3312-0015", "digits only"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("０１１３００１２", "digits only"),
        ("0199001" + str(insurer_check_digit("0199001")), "都道府県番号 99"),
    ],
)
def test_insurer_number_garbage(text: str, message: str) -> None:
    with pytest.raises(RuleInputError, match=message):
        InsurerNumber.parse(text)


def test_national_health_insurance_has_six_digits() -> None:
    body = "13801"
    number = InsurerNumber.parse(body + str(insurer_check_digit(body)))
    assert number.is_national_health_insurance and number.law is None
    assert number.padded == "  " + number.digits
    assert InsurerNumber.parse(number.padded) == number  # as the result message carries it


@given(st.text(alphabet="0123456789", min_size=5, max_size=7))
def test_every_number_with_its_check_digit_parses(body: str) -> None:
    if len(body) not in (5, 7) or not 1 <= int(body[-5:-3]) <= 47:
        return
    text = body + str(insurer_check_digit(body))
    assert InsurerNumber.parse(text).digits == text
    wrong = body + str((insurer_check_digit(body) + 1) % 10)
    with pytest.raises(RuleInputError):
        InsurerNumber.parse(wrong)


@given(st.text(max_size=12))
def test_insurer_number_parse_is_total(text: str) -> None:
    with contextlib.suppress(RuleInputError):
        InsurerNumber.parse(text)


# --- 負担割合 -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "last_preschool_day"),
    [
        (D(2019, 4, 2), D(2026, 3, 31)),  # 6 on 2025-04-02: first 31 March after is 2026
        (D(2019, 4, 1), D(2025, 3, 31)),  # reaches 6 on 31 March 2025 itself (legal age)
        (D(2019, 3, 31), D(2025, 3, 31)),
        (D(2020, 2, 29), D(2026, 3, 31)),
    ],
)
def test_preschool_ends_on_the_first_31_march(birth: dt.date, last_preschool_day: dt.date) -> None:
    assert preschool_until(birth) == last_preschool_day
    assert copayment_ratio(birth, last_preschool_day).percent == 20
    after = last_preschool_day + dt.timedelta(days=1)
    ratio = copayment_ratio(birth, after)
    assert ratio.percent == 30 and ratio.bracket is AgeBracket.GENERAL


@pytest.mark.parametrize(
    ("birth", "first_day"),
    [
        (D(1955, 6, 15), D(2025, 7, 1)),  # the 1st of the month after the 70th birthday
        (D(1955, 6, 1), D(2025, 6, 1)),  # birthday on the 1st: that month itself
        (D(1955, 12, 20), D(2026, 1, 1)),  # across the year end
        (D(1956, 1, 1), D(2026, 1, 1)),
    ],
)
def test_elderly_recipient_starts_on_the_right_first(birth: dt.date, first_day: dt.date) -> None:
    assert elderly_recipient_from(birth) == first_day
    before = first_day - dt.timedelta(days=1)
    assert copayment_ratio(birth, before).percent == 30
    ratio = copayment_ratio(birth, first_day)
    assert ratio.percent == 20 and ratio.bracket is AgeBracket.ELDERLY_RECIPIENT
    assert copayment_ratio(birth, first_day, active_income=True).percent == 30


def test_late_elderly_from_the_75th_birthday_itself() -> None:
    birth = D(1950, 8, 20)
    assert copayment_ratio(birth, D(2025, 8, 19)).bracket is AgeBracket.ELDERLY_RECIPIENT
    ratio = copayment_ratio(birth, D(2025, 8, 20))
    assert ratio.bracket is AgeBracket.LATE_ELDERLY and ratio.percent == 10
    stated = copayment_ratio(birth, D(2025, 8, 20), insurer_percent=20)
    assert stated.percent == 20 and stated.stated_by_insurer and stated.code == "020"
    assert stated.label == "2割"


def test_ratio_garbage() -> None:
    with pytest.raises(RuleInputError, match="before the birth date"):
        copayment_ratio(D(2000, 1, 1), D(1999, 1, 1))
    with pytest.raises(RuleInputError, match="10, 20 or 30"):
        copayment_ratio(D(2000, 1, 1), D(2025, 1, 1), insurer_percent=25)


def test_age_on() -> None:
    assert age_on(D(1980, 6, 15), D(2025, 6, 14)) == 44
    assert age_on(D(1980, 6, 15), D(2025, 6, 15)) == 45
    assert age_on(D(2000, 2, 29), D(2025, 2, 28)) == 24
    assert age_on(D(2000, 2, 29), D(2025, 3, 1)) == 25


# --- the e-certificate -------------------------------------------------------------


@pytest.mark.parametrize(
    ("expiry", "last"),
    [
        (D(2025, 12, 2), D(2026, 3, 31)),  # the example of oqs.md
        (D(2027, 11, 30), D(2028, 2, 29)),  # leap year
        (D(2026, 11, 30), D(2027, 2, 28)),
        (D(2026, 10, 31), D(2027, 1, 31)),
        (D(2026, 1, 31), D(2026, 4, 30)),
    ],
)
def test_grace_period_month_ends(expiry: dt.date, last: dt.date) -> None:
    assert grace_last_day(expiry) == last
    assert certificate_state(expiry, expiry) is CertificateState.RENEWAL_DUE
    assert certificate_state(expiry, expiry + dt.timedelta(days=1)) is CertificateState.GRACE
    assert certificate_state(expiry, last) is CertificateState.GRACE
    assert certificate_state(expiry, last + dt.timedelta(days=1)) is CertificateState.LAPSED


@pytest.mark.parametrize(
    ("expiry", "notice_from"),
    [
        (D(2027, 6, 15), D(2027, 3, 15)),
        (D(2027, 5, 31), D(2027, 2, 28)),
        (D(2028, 5, 31), D(2028, 2, 29)),
    ],
)
def test_renewal_notice_three_months_before(expiry: dt.date, notice_from: dt.date) -> None:
    assert renewal_notice_from(expiry) == notice_from
    assert certificate_state(expiry, notice_from) is CertificateState.RENEWAL_DUE
    assert certificate_state(expiry, notice_from - dt.timedelta(days=1)) is CertificateState.VALID


def test_code_tables_carry_their_labels() -> None:
    assert [v.label for v in QualificationValidity] == [
        "有効",
        "無効",
        "無効（新しい資格あり）",
        "該当資格なし",
        "複数該当",
    ]
    assert ReasonOfLoss("03").label == "医療保険等の資格取得"
    assert LimitApplicationClass("A03").label == "ウ"
    assert SpecificDisease.DIALYSIS.label == "人工透析を要する慢性腎不全"
    assert Consent("2").label == "期限切れ"
    with pytest.raises(ValueError):
        QualificationValidity("6")
