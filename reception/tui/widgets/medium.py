"""The reader panel's words that depend on the clinic's reader (reception/reader_models.py):
the card-wait screen as its :class:`~reception.questions.ChooseMedium` question asks it —
マイナンバーカード / スマートフォン on today's readers, nothing on the next-generation model,
which reads a smartphone on the card reader itself — and the 処方箋 question as
:class:`~reception.questions.ChoosePrescription` covers it (院外, or 院内処方 too).

The next-generation reader's patient screens are not public (oqs.md §8): its card-wait
screen here is ours, saying only what the reader does.
"""

from __future__ import annotations

from reception.questions import ChooseMedium
from reception.reader_models import Medium, PrescriptionQuestion
from reception.tui.panel_text import TEXT

WORDS: dict[str, dict[str, str]] = {
    "ja": {
        "any": "マイナンバーカードを置くか、スマートフォンをかざしてください",
        "any_sub": "スマートフォンもこの読み取り部で読み取ります\n"
        "Android：暗証番号をこの画面で入力します\n"
        "iPhone：iPhone の画面で本人確認します",
        "inside": "お薬の情報の受け取り方を選んでください（院内処方を含みます）",
        "inside_sub": "電子処方箋：院外処方は薬局でマイナ保険証を提示して受け取ります。"
        "院内でお渡しするお薬の情報も電子処方箋管理サービスに登録されます",
    },
    "en": {
        "any": "Place your My Number card or hold your smartphone over the reader",
        "any_sub": "This reader reads smartphones too\n"
        "Android: enter your PIN on this screen\niPhone: confirm on the iPhone",
        "inside": "How would you like your prescription (medicines given here included)?",
        "inside_sub": "Electronic: collected at a pharmacy with your card; medicines given "
        "here are registered with the electronic prescription service too",
    },
}


def wait_texts(
    language: str, question: ChooseMedium | None, chosen: Medium | None
) -> tuple[str, str, str]:
    """The card-wait screen's title, note and keys: before a choice, after one, or — on a
    reader that reads phones itself (no question) — for either."""
    text = TEXT[language]
    if question is None:
        words = WORDS[language]
        return words["any"], words["any_sub"], ""
    if chosen is None:
        return text["wait"], text["wait_sub"], text["wait_keys"]
    if chosen is Medium.CARD:
        return text["card"], text["card_sub"], text["wait_keys"]
    title = "phone_separate" if question.separate_reader else "phone"
    return text[title], text["phone_sub"], text["wait_keys"]


def prescription_texts(language: str, covers: PrescriptionQuestion) -> tuple[str, str]:
    """The 処方箋 question's title and note, for 院外 or 院内処方 too."""
    if covers is PrescriptionQuestion.INSIDE:
        words = WORDS[language]
        return words["inside"], words["inside_sub"]
    text = TEXT[language]
    return text["prescription"], text["prescription_sub"]
