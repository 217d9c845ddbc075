"""The service's code tables (OQSCD…) that staff read as labels, each with its source:
a code is shown as its label with the code after it in brackets (「区分ウ（A03）」), so
staff read words and can still tell the code to the insurer or the clinic software.

The validity, sex and loss-reason tables stay where they were first written
(reception.results, reception.present).
"""

from __future__ import annotations

LIMIT_CATEGORIES = {
    "A01": "区分ア",
    "A02": "区分イ",
    "A03": "区分ウ",
    "A04": "区分エ",
    "A05": "区分オ",
    "A06": "区分オ（境）",
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
}
"""限度額適用認定証の適用区分 (``LimitApplicationCertificateClassificationFlag``, OQSCD012):
A01–A06 are the 区分 ア–オ of people under 70 (ア: 年収約1,160万円以上; オ: 住民税非課税),
B01–B10 the 区分 of people 70 and over. Sources: oqs.md §3, and the code table of a public
clinic program that reads real result files (hangilc/myclinic-ts,
packages/onshi-result/codes.ts ``LimitApplicationCertificateClassificationFlag``)."""

LIMIT_CERTIFICATES = {
    "01": "限度額適用認定証",
    "02": "限度額適用・標準負担額減額認定証",
    "03": "標準負担額減額認定証",
}
"""限度額証区分 (``LimitApplicationCertificateClassification``, OQSCD011): oqs.md §3;
hangilc/myclinic-ts packages/onshi-result/codes.ts."""

SPECIFIC_DISEASES = {
    "1": "人工透析を要する慢性腎不全",
    "2": "血友病（先天性血液凝固因子障害 第VIII・IX因子）",
    "3": "血液凝固因子製剤の投与に起因するHIV感染症",
}
"""特定疾病療養受療証の認定疾病区分 (``SpecificDiseasesDiseaseCategory``, OQSCD013): the three
特定疾病. Sources: oqs.md §3; hangilc/myclinic-ts packages/onshi-result/codes.ts
``SpecificDiseasesDiseaseCategory`` (「人工透析を必要とする慢性腎不全」, 「先天性血液凝固因子障害
（第VIII因子、第IX因子）」, 「血液凝固因子製剤の投与に起因するHIV感染症」)."""


def coded(table: dict[str, str], code: str | None) -> str:
    """A code as staff read it: its label with the code after in brackets (「区分ウ（A03）」);
    an unknown code as it is, said to be unknown; none: 「—」."""
    if not code:
        return "—"
    label = table.get(code)
    return f"{label}（{code}）" if label else f"不明な区分（{code}）"
