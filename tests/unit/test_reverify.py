"""Re-verification compares the person, not only the numbers; an invalid qualification
is shown as lost (issue 11 §4)."""

from __future__ import annotations

import datetime as dt

from reception.declaration import SelfDeclaration
from reception.results import QualificationResult
from reception.reverify import compare
from tests.support.forms import valid


def found(name: str, birth: str = "19900517", ratio: str = "030") -> QualificationResult:
    return QualificationResult.parse(
        {
            "MessageHeader": {"ProcessExecutionTime": "20261124090000", "SegmentOfResult": "1"},
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": "1",
                "ResultList": {
                    "ResultOfQualificationConfirmation": [
                        {
                            "Name": name,
                            "Birthdate": birth,
                            "InsurerNumber": "01130012",
                            "InsuredPartialContributionRatio": ratio,
                        }
                    ]
                },
            },
        }
    )


def declared(**changes: object) -> SelfDeclaration:
    return SelfDeclaration.parse(valid(insurer_number="01130012", symbol="1", number="2") | changes)


def test_the_same_person_with_another_kind_of_space_is_confirmed() -> None:
    state, difference = compare(declared(name="架空 花子"), found("架空\u3000花子"))
    assert (state, difference) == ("confirmed", {})


def test_another_persons_name_with_the_right_numbers_differs() -> None:
    state, difference = compare(declared(name="架空 花子"), found("高橋\u3000美咲"))
    assert state == "differing" and difference == {"氏名": ["架空 花子", "高橋\u3000美咲"]}


def test_another_birth_date_differs() -> None:
    birth = dt.date(1990, 5, 17)
    state, difference = compare(
        declared(birth_date=birth.isoformat()), found("架空 花子", "19910517")
    )
    assert state == "differing" and difference["生年月日"] == ["19900517", "19910517"]


def test_an_invalid_qualification_shows_its_loss_never_a_share() -> None:
    """Issue 11 §4: 無効 — the 喪失日 and its reason, no 負担割合 as if it still held."""
    from reception.present import qualification_lines

    result = QualificationResult.parse(
        {
            "MessageHeader": {"ProcessExecutionTime": "20261124090000", "SegmentOfResult": "1"},
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": "2",
                "ResultList": {
                    "ResultOfQualificationConfirmation": [
                        {
                            "Name": "架空\u3000花子",
                            "InsurerNumber": "01130012",
                            "InsuredPartialContributionRatio": "030",
                            "DisqualificationDate": "20261025",
                            "ReasonOfLoss": "03",
                        }
                    ]
                },
            },
        }
    )
    lines = "\n".join(qualification_lines(result.entries[0], valid=False))
    assert "喪失日 2026/10/25（事由 医療保険等の資格取得）" in lines
    assert "負担割合" not in lines and "3割" not in lines
