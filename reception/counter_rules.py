"""How this clinic's reader asks (:class:`CounterRules`: the consent flow, the
prescription question, the 公費 pilot) and what a route and a method may ask
(:data:`OPEN_ITEMS`, design.md §6.9) — the rules the check-in flow (reception/flow.py)
follows, apart from its states so that each can grow on its own.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass

from reception.reader_models import PrescriptionQuestion, ReaderModel
from reception.vocabulary import ConsentItem, Method, Route


class ConsentFlow(enum.StrEnum):
    """Which reader flow asks the patient (oqs.md §5)."""

    CURRENT = "2024-10"  # まとめて同意; 限度額 provided without a question
    PRE_2024 = "pre-2024"  # each item, and 「限度額情報を提供しますか」 (old training material)


class Prescription(enum.StrEnum):
    """処方箋の発行形態 the patient chooses where the clinic issues electronic ones
    (OQSCD017, sent as PrescriptionIssueSelect)."""

    ELECTRONIC = "1"
    PAPER = "2"

    @property
    def label(self) -> str:
        return "電子処方箋" if self is Prescription.ELECTRONIC else "紙の処方箋"


@dataclass(frozen=True)
class CounterRules:
    """How this clinic's reader asks: the consent flow, whether it issues electronic
    prescriptions (then the patient chooses the form at the reader), and whether its area
    runs 公費 by card (then the reader asks about the 医療費助成 受給者証); which reader it
    is (reception/reader_models.py: 目視 or not) and how it asks the 処方箋 question.

    ``electronic_prescriptions`` is the old yes/no of the 処方箋 question, kept for
    compatibility: True with ``prescriptions`` off means ``outside``; after construction it
    says whether the question is asked at all."""

    consent_flow: ConsentFlow = ConsentFlow.CURRENT
    electronic_prescriptions: bool = False
    public_expense_pilot: bool = False  # the area runs 公費 by card: the reader asks
    # 資格確認限定型 (reception/home_visit/mode.py): no consent, 公費 or 処方箋 question;
    # every consent flag sent 0
    qualification_only: bool = False
    prescriptions: PrescriptionQuestion = PrescriptionQuestion.OFF
    reader_model: ReaderModel = ReaderModel.CURRENT

    def __post_init__(self) -> None:
        if self.electronic_prescriptions and not self.prescriptions.asked:
            object.__setattr__(self, "prescriptions", PrescriptionQuestion.OUTSIDE)
        object.__setattr__(self, "electronic_prescriptions", self.prescriptions.asked)


@dataclass(frozen=True)
class ConsentsGiven:
    medication: bool = False
    checkup: bool = False
    operation: bool = False
    limit: bool = False
    prescription: Prescription | None = None
    subsidies: bool = False  # 医療費助成の受給者証を利用する (pilot areas)


# What a patient may be asked, by where the card is read and how the holder was proven
# (design.md §6.9) — the terminal's half of a rule the service enforces too (mock_oqs/
# service.py OPEN_AT, where the sources are cited in full). In short:
# - 保険証利用登録 rests on the holder's own proof, PIN or face, at the reader; never on
#   目視 alone; and the 居宅同意取得型 route needs a card registered beforehand (the
#   ministry's FAQ on マイナ在宅受付Web / マイナ資格確認アプリ).
# - 目視 at the reader (目視モード) opens the same consents as PIN or face: the ministry's
#   material on 顔認証マイナンバーカード (「顔認証または目視により…本人の同意により特定健診
#   等の情報や診療、薬剤情報の閲覧が可能」) and clinics' reports (医療保険部会 2025-10-16,
#   資料2 p.12: in 目視モード the patient enters the 薬剤情報 consent, or staff help).
# - the 居宅同意取得型 route asks for 薬剤情報・診療情報 and 特定健診情報 (and the 処方箋
#   form), PIN or 目視 alike; the sources name no 手術情報 there: not asked (conservative).
# - the 医療費助成 受給者証 by card (the pilot) under 目視 or on that route: no source says
#   either way: not asked (the paper 受給者証 stays the rule).
# The 限度額 information is provided by law everywhere; the 処方箋 choice is not a consent.
ALL_ITEMS = frozenset(ConsentItem)
COUNTER_ITEMS = frozenset({"medication", "checkup", "limit"})
OPEN_ITEMS: dict[tuple[Route, Method], frozenset[str]] = {
    (Route.READER, Method.PIN): ALL_ITEMS,
    (Route.READER, Method.FACE): ALL_ITEMS,
    (Route.READER, Method.VISUAL): ALL_ITEMS - {"subsidies"},
    (Route.COUNTER, Method.PIN): COUNTER_ITEMS,
    (Route.COUNTER, Method.VISUAL): COUNTER_ITEMS,
}
REGISTRATION_OPEN = frozenset({(Route.READER, Method.PIN), (Route.READER, Method.FACE)})
REGISTRATION_CLOSED_MESSAGE = {
    Method.VISUAL: "マイナンバーカードの保険証利用登録がされていません。目視確認では登録できません"
    "（本人が暗証番号か顔認証で確認すると、その場で登録できます）",
    Route.COUNTER: "マイナンバーカードの保険証利用登録がされていません。居宅同意取得型では登録"
    "できません（顔認証付きカードリーダーかマイナポータルで登録できます）",
}


def open_items(route: Route, method: Method | None) -> frozenset[str]:
    """The consent items a patient may be asked: for a known method, its own; before the
    method is chosen (the 居宅同意取得型 route asks first), what every method of the
    route opens."""
    if method is not None:
        return OPEN_ITEMS.get((route, method), frozenset())
    sets = [items for (r, _), items in OPEN_ITEMS.items() if r is route]
    return frozenset.intersection(*sets)


def within(given: ConsentsGiven, items: frozenset[str]) -> ConsentsGiven:
    """``given`` with what ``items`` does not open taken out (never sent)."""
    return dataclasses.replace(
        given,
        medication=given.medication and "medication" in items,
        checkup=given.checkup and "checkup" in items,
        operation=given.operation and "operation" in items,
        limit=given.limit and "limit" in items,
        subsidies=given.subsidies and "subsidies" in items,
    )
