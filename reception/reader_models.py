"""Which face-recognition reader the clinic has (:class:`ReaderModel`) and whether, and
how, it asks the 処方箋 question (:class:`PrescriptionQuestion`): the two settings
``reader.model`` and ``reader.prescription`` (reception/settings.py), and what each
changes in the check-in's questions (reception/questions.py) — which choices the card-wait
screen offers (:func:`medium_question`), whether the method question may offer 目視確認
(:attr:`ReaderModel.visual_check`), and how the 処方箋 question is worded. No screen is
built here: the models change which questions and choices are asked, the front ends show
them. docs/reader/models.md says the same with its sources.

Sources (looked up again 2026-12; the dates are the pages'):

- Today's readers and phones: 「受付に設置された顔認証付きカードリーダーを操作し、本人認証を
  行なった後、スマートフォンをスマホ用の汎用カードリーダーにかざす。その後、顔認証付き
  カードリーダーで同意情報を入力する」 (MHLW's flow as reported by wacoca.com news 2646535,
  2025-09, and Impress Watch); 「受付端末でスマホ利用を選び…汎用リーダーにかざします」
  (digima-labo.com 19210, 2025-09-19); the 医療機関等向け総合ポータルサイト FAQ KB0012286:
  the generic reader is set beside the face-recognition reader and wired to the 資格確認端末;
  why: 「NFCアンテナの位置が機種によって異なっており…既存の顔認証付きカードリーダーでは
  対応できない」 (news.livedoor.com 29681264, 2025-10-01).
- The next-generation reader (spec published 2025-02-17, on sale from about summer 2026,
  maintenance of today's readers ending from 2026-03; it reads the smartphone's certificate
  itself; the interface to clinic software does not change): oqs.md §8, from the ministry's
  notice on 次期顔認証付きカードリーダー. Not found again in the search corpus (2026-12): kept as
  oqs.md has it; its patient screens are not public, so the card-wait screen here is ours.
- A model without 目視 (Hi-CARA cannot switch to 目視確認モード; five certified models): oqs.md
  §8, from the vendors' FAQ pages. Not found again in the search corpus (2026-12).
- 院内処方: registration of 院内処方 information at the 電子処方箋管理サービス began 2025-01-23
  as a プレ運用 (医療機関等向け総合ポータルサイト KB0012445; iryoken.co.jp 2025-01-20;
  電子処方箋等検討WG 第8回 資料1: 「令和7年1月より院内処方の情報も取り扱えるようになった」);
  as for 院外処方, the patient's wish for 電子処方箋 is confirmed at the reader at the
  オンライン資格確認 (welnica.com, on the ministry's 院内処方情報登録機能). The public code
  lists of OQSCD017 (PrescriptionIssueSelect) know 1 電子処方箋 and 2 紙の処方箋 only: no
  third value for 院内 was found, so 院内 sends the same two (never an invented code).
- Some clinics do not ask at the reader at all (they ask in the consulting room): oqs.md §8.
  Clinic software switches its own issue form from what the reader sent (ahissupport.aits.jp
  2024-02-28: 「発行方法の選択値は、顔認証付きカードリーダーにおいて認証時に選択された
  [処方箋の発行形態]に応じて…自動で切り替わります」): off sends nothing.
"""

from __future__ import annotations

import enum

from reception.vocabulary import Method


class Medium(enum.StrEnum):
    """What the patient holds to the reader: the card, or a smartphone."""

    CARD = "card"
    PHONE = "phone"

    @property
    def label(self) -> str:
        return "マイナンバーカード" if self is Medium.CARD else "スマートフォン"


class ReaderModel(enum.StrEnum):
    """The clinic's face-recognition reader."""

    CURRENT = "current"  # today's readers; smartphones on a generic NFC reader beside
    NEXT_GENERATION = "next-generation"  # reads the smartphone itself (from summer 2026)
    NO_VISUAL = "no-visual"  # a certified model that cannot switch to 目視確認モード

    @property
    def label(self) -> str:
        return MODEL_LABELS[self]

    @property
    def reads_phones(self) -> bool:
        """The reader itself reads a smartphone's certificate: no 「スマートフォン」 choice,
        no separate reader."""
        return self is ReaderModel.NEXT_GENERATION

    @property
    def visual_check(self) -> bool:
        """The reader can switch to 目視確認モード."""
        return self is not ReaderModel.NO_VISUAL

    def offered(self, methods: list[Method]) -> list[Method]:
        """``methods`` as this reader can offer them (no 目視 where it cannot)."""
        return [m for m in methods if m is not Method.VISUAL or self.visual_check]


MODEL_LABELS = {
    ReaderModel.CURRENT: "現行機（スマホは汎用リーダー）",
    ReaderModel.NEXT_GENERATION: "次世代機（スマホも読み取り部）",
    ReaderModel.NO_VISUAL: "目視確認のできない機種",
}

MODEL_HELP = (
    "the clinic's face-recognition reader: current (today's readers: a patient with a "
    "smartphone chooses 「スマートフォン」 and holds it to the generic NFC reader "
    "reader.phone_name, or to the card reader where there is none), next-generation (spec "
    "2025-02-17, on sale from about summer 2026: it reads the smartphone's certificate "
    "itself — no 「スマートフォン」 choice, no separate reader; reader.phone_name is not used), "
    "no-visual (a certified model that cannot switch to 目視確認: 目視 is never offered; when "
    "PIN and face cannot be used, staff use the 居宅同意取得型 route or the ladder)"
)

NO_VISUAL_MESSAGE = (
    "この読み取り機は目視確認ができません: 暗証番号も顔認証も使えないときは、"
    "職員の読み取り機（居宅同意取得型）か代替手段で確認してください"
)
"""What staff read where the reader cannot do 目視 (the method question, the 目視 command)."""

PHONE_NAME_UNUSED = (
    "reader.phone_name は使いません: 次世代機（reader.model = next-generation）は"
    "スマートフォンもカードの読み取り部で読みます"
)


def pin_locked_message(model_visual: bool, *, locked_now: bool = False) -> str:
    """What staff read when the card's PIN is locked: the ways on this reader has."""
    head = "暗証番号がロックされました" if locked_now else "暗証番号がロックされています"
    if model_visual:
        return f"{head}。顔認証か目視確認で続けられます"
    return f"{head}。顔認証で続けられます（{NO_VISUAL_MESSAGE}）"


class PrescriptionQuestion(enum.StrEnum):
    """Whether the reader asks the 処方箋 question, and for what."""

    OFF = "off"  # not asked (some clinics ask in the consulting room): nothing sent
    OUTSIDE = "outside"  # 院外処方: 電子処方箋 / 紙の処方箋
    INSIDE = "inside"  # 院内処方 too (registration of 院内処方 information since 2025-01-23)

    @property
    def asked(self) -> bool:
        return self is not PrescriptionQuestion.OFF

    @property
    def label(self) -> str:
        return {
            "off": "聞かない",
            "outside": "院外処方（電子／紙）",
            "inside": "院内処方も（電子処方箋管理サービスへの登録）",
        }[self.value]


PRESCRIPTION_HELP = (
    "the 処方箋 question at the reader: off (not asked — some clinics ask in the consulting "
    "room; nothing is sent), outside (院外処方: 電子処方箋 / 紙の処方箋, sent as "
    "PrescriptionIssueSelect 1 / 2), inside (the question covers 院内処方 too — its "
    "registration at the 電子処方箋管理サービス began 2025-01-23; the same two answers)"
)
