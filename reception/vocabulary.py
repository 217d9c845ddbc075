"""The terminal's words, each defined once: how a card was read and its holder proven,
where, what a patient may consent to, which shared records a doctor may read — with the
labels people read.

The flow, the store, the CLI, the TUI and the presentation all take them from here (the
flow re-exports ``Variant``, ``Method`` and ``Route`` where they were first defined). The
mock service is the outside world: it keeps its own names, and the OQS client is where
they meet (tests/unit/test_vocabulary.py checks that the two stay the same words). The
clock is :mod:`reader.clock`, shared with the mock service.
"""

from __future__ import annotations

import enum


class Variant(enum.StrEnum):
    """What was placed: the card, the face-only card, or a smartphone's JPKI."""

    PHYSICAL = "physical"
    FACE_ONLY = "face-only"
    ANDROID = "android"
    IPHONE = "iphone"

    @property
    def label(self) -> str:
        return {
            "physical": "マイナンバーカード",
            "face-only": "顔認証マイナンバーカード",
            "android": "スマートフォン（Android）",
            "iphone": "スマートフォン（iPhone）",
        }[self.value]


class Method(enum.StrEnum):
    """How the holder was proven at the card."""

    PIN = "pin"  # 暗証番号 (Android: on the reader; iPhone: on the phone)
    FACE = "face"  # 顔認証
    VISUAL = "visual"  # 目視確認 by staff

    @property
    def label(self) -> str:
        return {"pin": "暗証番号", "face": "顔認証", "visual": "目視確認"}[self.value]


class Route(enum.StrEnum):
    """Where the card is read: the patient's face-recognition reader, or — since 2025-04,
    when it is out of order or the patient cannot operate it — a staff-held reader at the
    counter (居宅同意取得型, oqs.md §6 rung 0): consent first, then PIN or staff's 目視."""

    READER = "reader"
    COUNTER = "counter"

    @property
    def label(self) -> str:
        return "顔認証付きカードリーダー" if self is Route.READER else "居宅同意取得型"


class ReceptionMethod(enum.StrEnum):
    """How a reception confirmed the qualification, as the store keeps it: one of the
    card's :class:`Method` values, or a query by the insurance card's numbers."""

    PIN = "pin"
    FACE = "face"
    VISUAL = "visual"
    NUMBER = "number"  # 資格確認書 / 保険証の記号番号で照会

    @classmethod
    def of(cls, method: Method | ReceptionMethod) -> ReceptionMethod:
        return cls(method.value)

    @property
    def short_label(self) -> str:
        """The staff list's column (short: 「目視」, not 「目視確認」)."""
        return {"pin": "暗証番号", "face": "顔認証", "visual": "目視", "number": "番号照会"}[
            self.value
        ]


METHOD_BUTTON_LABELS: dict[str, dict[Method, str]] = {
    "ja": {Method.PIN: "暗証番号", Method.FACE: "顔認証", Method.VISUAL: "職員による目視確認"},
    "en": {Method.PIN: "PIN", Method.FACE: "Face", Method.VISUAL: "Staff visual check"},
}
"""The method buttons of the patient's reader panel, by language."""


class ConsentItem(enum.StrEnum):
    """What a patient may agree to share (oqs.md §5). ``limit``: 限度額情報 (provided by
    law since 2024-10; asked only by the pre-2024 flow); ``subsidies``: the 医療費助成
    受給者証 by card, asked on its own in pilot areas."""

    MEDICATION = "medication"  # 診療情報・薬剤情報
    CHECKUP = "checkup"  # 特定健診情報
    OPERATION = "operation"  # 手術情報
    LIMIT = "limit"  # 限度額情報
    SUBSIDIES = "subsidies"  # 医療費助成の受給者証


NAMED_CONSENTS = (
    ConsentItem.MEDICATION,
    ConsentItem.CHECKUP,
    ConsentItem.OPERATION,
    ConsentItem.LIMIT,
)
"""The items ``reception checkin --consent`` names (the 受給者証 is its own question)."""

SCREEN_CONSENTS: list[tuple[str, str, str]] = [
    (ConsentItem.MEDICATION.value, "診療情報・薬剤情報", "Medical and medication records"),
    (ConsentItem.CHECKUP.value, "特定健診情報", "Health checkup records"),
    (ConsentItem.OPERATION.value, "手術情報", "Surgery records"),
]
"""The consent screen's items (個別に選ぶ): key, Japanese, English."""


class SharedRecords(enum.StrEnum):
    """The records a consenting patient's doctor may read (the service's names)."""

    MEDICATIONS = "medications"  # 薬剤情報 (3 years)
    DIAGNOSES = "diagnoses"  # 診療情報 (5 years)
    OPERATIONS = "operations"  # 手術情報 (5 years)
    CHECKUPS = "checkups"  # 特定健診 (5 years)


class ReceptionStatus(enum.StrEnum):
    """Where a reception stands. ``cancelled``: stopped on purpose or by bad input (a
    malformed PIN); ``interrupted``: the process running it died (found at the next start
    of any program on this store)."""

    IN_PROGRESS = "in-progress"
    CONFIRMED = "confirmed"
    FALLBACK = "fallback"  # the card route ended: the ladder is next
    PENDING = "pending"  # the service could not be reached: re-checked when it is back
    ERROR = "error"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    SELF_PAY = "self-pay"  # neither マイナ保険証 nor 資格確認書: 10割, refund from the insurer
    # the ladder's rungs that settle a visit the card route did not (oqs.md §6)
    CONFIRMED_NOTICE = "confirmed-notice"  # card + 資格情報のお知らせ / マイナポータル seen
    CONFIRMED_CERTIFICATE = "confirmed-certificate"  # 資格確認書 queried by number: 有効
    DECLARED = "declared"  # 被保険者資格申立書 received (billed as declared, re-verified later)

    @property
    def settled(self) -> bool:
        """The visit's qualification is settled (a confirmation, a rung that stands for one,
        a 申立書 or 10割): no ladder step is offered any more."""
        return self in _SETTLED

    @property
    def confirmed(self) -> bool:
        """Confirmed by the card or by a rung that counts as a confirmation."""
        return self in _CONFIRMED


_CONFIRMED = frozenset(
    {
        ReceptionStatus.CONFIRMED,
        ReceptionStatus.CONFIRMED_NOTICE,
        ReceptionStatus.CONFIRMED_CERTIFICATE,
    }
)
_SETTLED = _CONFIRMED | {ReceptionStatus.DECLARED, ReceptionStatus.SELF_PAY}
