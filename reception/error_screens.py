"""The reader's numbered error screens: what the patient reads, and what staff do.

Real 顔認証付きカードリーダー show an error as a numbered screen — the number in 【】, a
title, and 「受付窓口にご連絡ください」 — and staff look the number up (oqs.md §8). This
is the catalogue of those screens (no Textual here: the core's import-linter contract).
Each :class:`ErrorScreen` has its number as the reader shows it, the patient's words
(ja/en) and the staff's words: the same number with what to do (which rung of the
ladder, take the card out, call …).

Numbers that public sources give (looked up 2026-12, issue 24; wording varies a little
by model — 「機種によって若干の差はあります」):

- 【001】 マイナンバーカードの認識不可, 【002】 マイナンバーカード以外, 【006】 利用者証明用
  電子証明書の失効・有効期限切れ, each with 「受付窓口にご連絡ください」: the vendors' FAQ
  pages as oqs.md §8 records them (2026-12).
- 【006】 again, with its whole text 「受付窓口にご連絡ください。また市区町村で証明書の更新
  手続きをしてください。【006:利用者証明用電子証明書の失効・有効期限切れ】」: an オンライン
  資格確認 support site's page on cards that cannot be used (xn--eckl3qmbc2306foeya813arge.com
  ?p=566, read 2026-12). The reader also warns of a lapsed certificate on its screen
  (hinokenpo.or.jp FAQ 18475).
- 「マイナンバーカード以外が置かれた」→「読み取りに失敗しました」 (no number) for a card the
  reader does not take for a My Number card: USEN-ALMEX's FAQ of the マイナタッチ reader,
  no. 70299 (2023-09-08, updated 2024-01-19).

The full list is in the ministry's reader manual, which is not public. Every other end of
a check-in gets a number in **our own range, 【S01】–【S99】** ("S" for the simulator: no
vendor number has a letter), documented here and in docs/reader/error-screens.md. The
old 住基カード's wording follows J-LIS: its certificates can no longer be renewed, 「マイナ
ンバーカードに切り替え願います」 (jpki.go.jp, procedure/period.html).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from reader.errors import NotAMyNumberCard
from reception.card_checks import JukiCard, card_fault
from reception.flow import State
from reception.reasons import FallbackReason

CONTACT_DESK_JA = "受付窓口にご連絡ください"
CONTACT_DESK_EN = "Please contact the reception desk"
OWN_RANGE = "S01–S99"


class Source(enum.StrEnum):
    """Where a screen's number comes from."""

    VENDOR = "vendor"  # a number real readers show (public sources above)
    OWN = "own"  # this simulator's range, 【S01】…


@dataclass(frozen=True)
class ErrorScreen:
    """One numbered screen: ``code`` as the reader shows it in 【】."""

    code: str
    title_ja: str
    title_en: str
    patient_ja: str  # what else the patient reads, under 「受付窓口にご連絡ください」
    patient_en: str
    staff_ja: str  # what staff do, with the same number
    staff_en: str
    source: Source

    @property
    def number(self) -> str:
        """The number as the reader shows it: 【002】."""
        return f"【{self.code}】"

    def title(self, language: str = "ja") -> str:
        return self.title_en if language == "en" else self.title_ja

    def patient(self, language: str = "ja") -> str:
        return self.patient_en if language == "en" else self.patient_ja

    def staff(self, language: str = "ja") -> str:
        return self.staff_en if language == "en" else self.staff_ja

    def heading(self, language: str = "ja") -> str:
        """「【002】 マイナンバーカード以外」: the number and the title (in English the
        number in parentheses, "(002) Not a My Number card": 【】 are Japanese)."""
        if language == "en":
            return f"({self.code}) {self.title_en}"
        return f"{self.number} {self.title(language)}"

    def staff_line(self, language: str = "ja") -> str:
        """The number, the title and what to do: the staff side of the screen."""
        return f"{self.heading(language)}: {self.staff(language)}"


UNREADABLE = ErrorScreen(
    "001",
    "マイナンバーカードの認識不可",
    "The My Number card cannot be recognised",
    "カードを読み取れませんでした。",
    "The card could not be read.",
    "カードを取り出し、ケースから出して置き直してもらう。読めなければ代替手段へ"
    "（職員の読み取り機（居宅同意取得型）・資格確認書・資格情報のお知らせ・被保険者番号での照会）",
    "Have the card taken out of its case and placed again; if it still cannot be read, "
    "use the ladder (the staff-held reader, 資格確認書, お知らせ, a query by number)",
    Source.VENDOR,
)
NOT_MY_NUMBER_CARD = ErrorScreen(
    "002",
    "マイナンバーカード以外",
    "Not a My Number card",
    "マイナンバーカードではありません。",
    "This is not a My Number card.",
    "置かれたのはマイナンバーカードではない（交通系ICカード・クレジットカードなど）。"
    "カードを取り出してもらい、マイナンバーカードか資格確認書を確認する",
    "The card is not a My Number card (a transit or credit card …): have it taken out "
    "and check the My Number card or the 資格確認書",
    Source.VENDOR,
)
CERTIFICATE = ErrorScreen(
    "006",
    "利用者証明用電子証明書の失効・有効期限切れ",
    "The user certificate is revoked or expired",
    "市区町村で電子証明書の更新手続きをしてください。",
    "Please renew the certificate at your city office.",
    "電子証明書が失効・期限切れ（猶予期間経過）でマイナ保険証として使えない。資格確認書・"
    "資格情報のお知らせか被保険者番号での照会で確認し、市区町村での更新を案内する",
    "The certificate is revoked or lapsed past its grace period: confirm by 資格確認書, "
    "お知らせ or a query by number, and send the patient to the city office to renew it",
    Source.VENDOR,
)
JUKI_CARD = ErrorScreen(
    "S01",
    "住民基本台帳カード",
    "A Basic Resident Register card",
    "住民基本台帳カードは使えません。マイナンバーカードをお持ちください。",
    "The Basic Resident Register card cannot be used. Please use your My Number card.",
    "古い住基カードが置かれた（健康保険証には使えない）。カードを取り出してもらい、"
    "マイナンバーカードか資格確認書で確認する",
    "An old 住基カード was placed (it is no health insurance card): have it taken out "
    "and check the My Number card or the 資格確認書",
    Source.OWN,
)
REMOVED = ErrorScreen(
    "S02",
    "カードが途中で取り外されました",
    "The card was taken away before the end",
    "もう一度カードを置いてください。",
    "Please place the card again.",
    "読み取りの途中でカードが取り外された（資格確認はしていない）。もう一度置いてもらう",
    "The card left the reader half-way (nothing was confirmed): have it placed again",
    Source.OWN,
)
READER_LOST = ErrorScreen(
    "S03",
    "カードリーダーの異常",
    "The card reader is not working",
    "カードリーダーが使えません。",
    "The card reader cannot be used.",
    "カードリーダーが応答しない・外れた。接続を確かめ、職員の読み取り機（居宅同意取得型）か"
    "代替手段で確認する",
    "The reader stopped answering or was unplugged: check its cable; confirm with the "
    "staff-held reader or the ladder",
    Source.OWN,
)
SERVICE_UNAVAILABLE = ErrorScreen(
    "S04",
    "資格確認サービスに接続できません",
    "The qualification service cannot be reached",
    "しばらくお待ちください。",
    "Please wait a moment.",
    "オンライン資格確認等システムにつながらない。保留のまま代替手段で確認し、"
    "回復後に再照会する（続けば回線・コールセンターへ）",
    "The service does not answer: keep the reception pending, confirm by the ladder and "
    "query again once it is back (if it lasts, check the line or call the help desk)",
    Source.OWN,
)
WRONG_CARD = ErrorScreen(
    "S05",
    "別のカードです",
    "Another person's card",
    "ご本人のカードを置いてください。",
    "Please place your own card.",
    "予定の患者のカードではない。カードを取り出してもらい、正しいカードを置いてもらう",
    "Not the expected patient's card: have it taken out and the right one placed",
    Source.OWN,
)
NOT_CONFIRMED = ErrorScreen(
    "S06",
    "資格を確認できませんでした",
    "The qualification could not be confirmed",
    "保険の資格を確認できませんでした。",
    "Your insurance could not be confirmed.",
    "資格が無効・該当なし・複数該当・保険証利用登録なし。受付の詳細の理由を見て、"
    "資格確認書・資格情報のお知らせか被保険者番号での照会で確認する",
    "No valid qualification (invalid, none, several, not registered): read the reason "
    "in the reception's detail and confirm by 資格確認書, お知らせ or a query by number",
    Source.OWN,
)
TERMINAL_ERROR = ErrorScreen(
    "S07",
    "エラーが発生しました",
    "An error occurred",
    "処理を続けられませんでした。",
    "The check-in could not go on.",
    "端末側のエラーで受付が終わった。受付の詳細と開発者ログを確かめ、もう一度置いてもらう",
    "The terminal failed: read the reception's detail and the developer log, and have the "
    "card placed again",
    Source.OWN,
)

CATALOGUE: tuple[ErrorScreen, ...] = (
    UNREADABLE,
    NOT_MY_NUMBER_CARD,
    CERTIFICATE,
    JUKI_CARD,
    REMOVED,
    READER_LOST,
    SERVICE_UNAVAILABLE,
    WRONG_CARD,
    NOT_CONFIRMED,
    TERMINAL_ERROR,
)
BY_CODE = {screen.code: screen for screen in CATALOGUE}


class Cause(enum.StrEnum):
    """What the check-in found of a card it could not use (beyond the flow's state)."""

    DEFECT = "defect"  # silent, nonsense answers …: 【001】
    NOT_MY_NUMBER_CARD = "not-my-number-card"  # no JPKI AP (SELECT 6A82 …): 【002】
    JUKI_CARD = "juki-card"  # a JPKI AP whose token is JPKIAPICCTOKEN: 【S01】


def cause_of(exc: BaseException) -> Cause | None:
    """What ``exc`` says of the card, where it ends the check-in as a card that cannot be
    used here (None: not the card's fault)."""
    if isinstance(exc, JukiCard):
        return Cause.JUKI_CARD
    if isinstance(exc, NotAMyNumberCard):
        return Cause.NOT_MY_NUMBER_CARD
    return Cause.DEFECT if card_fault(exc) else None


CAUSE_SCREENS = {
    Cause.DEFECT: UNREADABLE,
    Cause.NOT_MY_NUMBER_CARD: NOT_MY_NUMBER_CARD,
    Cause.JUKI_CARD: JUKI_CARD,
}
STATE_SCREENS = {
    State.CARD_UNREADABLE: UNREADABLE,  # unless the cause says more
    State.CARD_REMOVED: REMOVED,
    State.READER_LOST: READER_LOST,
    State.OQS_UNAVAILABLE: SERVICE_UNAVAILABLE,
    State.WRONG_CARD: WRONG_CARD,
    State.FALLBACK: NOT_CONFIRMED,  # unless the certificate is the reason
    State.ERROR: TERMINAL_ERROR,
}
NOT_A_CARD = frozenset({Cause.NOT_MY_NUMBER_CARD, Cause.JUKI_CARD})
"""Not a My Number card: no reader of the clinic reads it (the staff-held one neither)."""
NO_COUNTER = frozenset({"002", "S01", "006"})
"""The screens after which the staff-held reader (居宅同意取得型) reads the same card no
better: not a My Number card, or its certificate revoked or lapsed."""
CERTIFICATE_REASONS = frozenset(
    {FallbackReason.CERTIFICATE_REVOKED, FallbackReason.CERTIFICATE_LAPSED}
)


def screen_for(
    state: State, reason: FallbackReason | None = None, cause: Cause | None = None
) -> ErrorScreen | None:
    """The screen the reader shows when a check-in ends in ``state`` (None: confirmed, or
    not an end — the check-in was stopped on purpose)."""
    if state is State.CARD_UNREADABLE and cause is not None:
        return CAUSE_SCREENS[cause]
    if state is State.FALLBACK and reason in CERTIFICATE_REASONS:
        return CERTIFICATE
    return STATE_SCREENS.get(state)


_NUMBER = re.compile(r"^【([0-9A-Z]{3})】")


def with_number(screen: ErrorScreen | None, reason: str) -> str:
    """A reception's reason as the store keeps it: 「【002】 …」, so that the list, the
    pending queue and the console show the number."""
    if screen is None or _NUMBER.match(reason):
        return reason
    return f"{screen.number} {reason}"


def screen_in(reason: str | None) -> ErrorScreen | None:
    """The screen whose number a stored reason begins with, if any."""
    found = _NUMBER.match(reason or "")
    return BY_CODE.get(found.group(1)) if found else None
