"""Code tables of the qualification result (oqs.md §3, OQSCD…).

Values are the strings that appear in result messages; labels are what staff see.
"""

from __future__ import annotations

import enum


class LabelledCode(enum.StrEnum):
    """A code whose Japanese label staff see."""

    @property
    def label(self) -> str:
        return _LABELS[type(self).__name__][self.value]


class QualificationValidity(LabelledCode):
    """OQSCD006 資格有効性."""

    VALID = "1"
    INVALID = "2"
    INVALID_NEWER_EXISTS = "3"
    NO_MATCH = "4"
    MULTIPLE = "5"


class Sex(LabelledCode):
    """OQSCD007 性別."""

    MALE = "1"
    FEMALE = "2"
    UNSET = "3"


class ReasonOfLoss(LabelledCode):
    """OQSCD008 喪失事由."""

    DEATH = "01"
    PUBLIC_ASSISTANCE = "02"
    OTHER_INSURANCE = "03"
    OTHER = "99"


class PersonalFamily(LabelledCode):
    """OQSCD009 本人・家族."""

    INSURED = "1"
    FAMILY = "2"


class InsuredCardClassification(LabelledCode):
    """OQSCD010 被保険者証区分 (05 is left out: the sources conflict)."""

    GENERAL = "01"
    RETIRED = "02"
    SHORT_TERM_GENERAL = "03"
    SHORT_TERM_RETIRED = "04"
    SPECIAL_RETIRED = "06"
    SELF_DEFENSE = "07"
    MEDICAL_ASSISTANCE = "A1"


class LimitCertificateClassification(LabelledCode):
    """OQSCD011 限度額証区分."""

    LIMIT = "01"
    LIMIT_AND_MEAL_REDUCTION = "02"
    MEAL_REDUCTION = "03"


class LimitApplicationClass(LabelledCode):
    """OQSCD012 適用区分."""

    A01 = "A01"
    A02 = "A02"
    A03 = "A03"
    A04 = "A04"
    A05 = "A05"
    A06 = "A06"
    B01 = "B01"
    B02 = "B02"
    B03 = "B03"
    B04 = "B04"
    B05 = "B05"
    B06 = "B06"
    B07 = "B07"
    B08 = "B08"
    B09 = "B09"
    B10 = "B10"


class SpecificDisease(LabelledCode):
    """OQSCD013 特定疾病."""

    DIALYSIS = "1"
    HEMOPHILIA = "2"
    HIV_FROM_BLOOD_PRODUCTS = "3"


class Consent(LabelledCode):
    """OQSCD016 同意."""

    NONE = "0"
    GIVEN = "1"
    EXPIRED = "2"
    UNOBTAINABLE = "3"


class PrescriptionIssue(LabelledCode):
    """OQSCD017 処方箋の発行形態."""

    ELECTRONIC = "1"
    PAPER = "2"


_LABELS: dict[str, dict[str, str]] = {
    "QualificationValidity": {
        "1": "有効",
        "2": "無効",
        "3": "無効（新しい資格あり）",
        "4": "該当資格なし",
        "5": "複数該当",
    },
    "Sex": {"1": "男", "2": "女", "3": "未設定"},
    "ReasonOfLoss": {
        "01": "死亡",
        "02": "生活保護受給開始",
        "03": "医療保険等の資格取得",
        "99": "その他",
    },
    "PersonalFamily": {"1": "本人", "2": "家族"},
    "InsuredCardClassification": {
        "01": "一般",
        "02": "退職",
        "03": "短期(一般)",
        "04": "短期(退職)",
        "06": "特例退職",
        "07": "自衛官",
        "A1": "医療扶助",
    },
    "LimitCertificateClassification": {
        "01": "限度額適用認定証",
        "02": "限度額適用・標準負担額減額認定証",
        "03": "標準負担額減額認定証",
    },
    "LimitApplicationClass": {
        "A01": "ア",
        "A02": "イ",
        "A03": "ウ",
        "A04": "エ",
        "A05": "オ",
        "A06": "オ（境）",
        "B01": "現役並みⅢ",
        "B02": "現役並みⅡ",
        "B03": "現役並みⅠ",
        "B04": "一般",
        "B05": "低所得Ⅱ",
        "B06": "低所得Ⅰ",
        "B07": "低所得Ⅰ（老福）",
        "B08": "低所得Ⅰ（境）",
        "B09": "一般Ⅱ",
        "B10": "一般Ⅰ",
    },
    "SpecificDisease": {
        "1": "人工透析を要する慢性腎不全",
        "2": "血友病(第VIII・IX因子)",
        "3": "血液凝固因子製剤起因のHIV",
    },
    "Consent": {"0": "なし", "1": "あり", "2": "期限切れ", "3": "取得困難"},
    "PrescriptionIssue": {"1": "電子処方箋", "2": "紙の処方箋"},
}
