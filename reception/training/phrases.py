"""What patients say at the counter and what staff may answer (issue 25 §2).

Each :class:`Utterance` is a patient's line; its :class:`Phrase` choices are graded
``good`` (what the trainers teach), ``acceptable`` (true, but not the best words) or
``wrong`` — and a wrong phrase may also be a mistake that matters at any time (asking
for the PIN, taking the card, blaming the patient: :class:`Mistake`). A scenario file
may add utterances of its own (``[[phrase]]``) or regrade a choice for one case.

The good words follow the ministry's counter talk script and operation manuals
(厚生労働省「マイナ保険証の利用促進等に関する窓口での声かけ」, 医療機関等向け総合
ポータルサイト「オンライン資格確認の運用に関するQ&A」): never ask for the PIN, never take
the card from the patient, say what the patient can do next rather than what they did
wrong, and offer the way that works today (顔認証, 目視, 資格確認書, 申立書).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Grade(enum.StrEnum):
    GOOD = "good"
    ACCEPTABLE = "acceptable"
    WRONG = "wrong"

    @property
    def label(self) -> str:
        return {"good": "よい", "acceptable": "可", "wrong": "誤り"}[self.value]


class Mistake(enum.StrEnum):
    """Mistakes that matter whenever they happen; each costs what the scenario says."""

    ASK_PIN = "ask-pin"  # asking for (or typing) the patient's PIN
    TAKE_CARD = "take-card"  # taking the card out of the patient's hands
    WRONG_RECEPTION = "wrong-reception"  # a 申立書 or a rung on another patient's reception
    RUNG_SKIPPED = "rung-skipped"  # a lower rung while a higher one was in the patient's hands
    BLAME = "blame"  # words that blame the patient

    @property
    def label(self) -> str:
        return MISTAKE_LABELS[self]


MISTAKE_LABELS = {
    Mistake.ASK_PIN: "暗証番号を尋ねた・入力した",
    Mistake.TAKE_CARD: "患者さんのカードを預かった",
    Mistake.WRONG_RECEPTION: "別の患者さんの受付に記録しようとした",
    Mistake.RUNG_SKIPPED: "代替手段の順番を飛ばした",
    Mistake.BLAME: "患者さんを責める言い方をした",
}

MISTAKE_WHY = {
    Mistake.ASK_PIN: "暗証番号は本人だけが入力します。職員が尋ねたり代わりに入力したり"
    "してはいけません（わからない場合は顔認証か目視確認へ）。",
    Mistake.TAKE_CARD: "マイナンバーカードは患者さんご自身がカードリーダーに置きます。"
    "窓口で預かりません（居宅同意取得型でも、読み取りの間だけ本人の前で扱います）。",
    Mistake.WRONG_RECEPTION: "申立書や代替手段は、その患者さんの受付に記録します。"
    "別の方の受付に付けると請求と再確認が別人に結び付きます。",
    Mistake.RUNG_SKIPPED: "代替手段には順番があります: お知らせ・マイナポータル → 資格確認書"
    " → 申立書（持参なしは10割）。手元にある上の手段から使います。",
    Mistake.BLAME: "うまくいかないのは患者さんのせいではありません。次にできることを伝えます。",
}


@dataclass(frozen=True)
class Phrase:
    id: str
    text: str
    grade: Grade
    why: str = ""  # shown in the feedback
    mistake: Mistake | None = None


@dataclass(frozen=True)
class Utterance:
    id: str
    text: str  # the patient's words (Japanese)
    english: str
    phrases: tuple[Phrase, ...]

    def phrase(self, phrase_id: str) -> Phrase | None:
        return next((p for p in self.phrases if p.id == phrase_id), None)

    @property
    def best(self) -> Phrase:
        return next(p for p in self.phrases if p.grade is Grade.GOOD)


def _u(uid: str, text: str, english: str, *phrases: Phrase) -> Utterance:
    return Utterance(uid, text, english, phrases)


G, A, W = Grade.GOOD, Grade.ACCEPTABLE, Grade.WRONG

UTTERANCES: dict[str, Utterance] = {
    u.id: u
    for u in (
        _u(
            "forgot-pin",
            "暗証番号がわかりません",
            "I don't know my PIN.",
            Phrase(
                "face-or-visual",
                "顔認証でも受付できます。画面の「顔認証」を選んでカメラを見てください",
                G,
                "暗証番号がなくても顔認証（できなければ目視確認）で本人確認できます。",
            ),
            Phrase(
                "visual",
                "では、こちらでお顔とカードの写真を確認しますね（目視確認）",
                A,
                "目視確認も認められていますが、まず顔認証を案内します。",
            ),
            Phrase(
                "tell-me",
                "暗証番号を教えていただければ、こちらで入力します",
                W,
                "暗証番号は本人だけが入力します。",
                Mistake.ASK_PIN,
            ),
            Phrase(
                "go-home",
                "暗証番号がわからないと受付できません",
                W,
                "顔認証・目視確認があります。受付できないと言ってはいけません。",
                Mistake.BLAME,
            ),
        ),
        _u(
            "pin-locked",
            "暗証番号を間違えてロックされました",
            "I got my PIN wrong and it is locked.",
            Phrase(
                "face-and-city",
                "今日は顔認証で受付できます。ロックの解除はお住まいの市区町村の窓口でできます",
                G,
                "ロック中も顔認証・目視確認で受付でき、解除は市区町村の窓口です。",
            ),
            Phrase(
                "face-only",
                "顔認証で受付しましょう",
                A,
                "受付はできますが、ロックの解除先（市区町村の窓口）も伝えます。",
            ),
            Phrase(
                "careless",
                "3回間違えるとロックされますよ。次から気をつけてください",
                W,
                "責める言い方は避け、次にできることを伝えます。",
                Mistake.BLAME,
            ),
        ),
        _u(
            "forgot-card",
            "マイナ保険証を忘れました",
            "I forgot my My Number insurance card.",
            Phrase(
                "kakunin-or-full",
                "資格確認書はお持ちですか。お持ちでなければ今日は10割のご負担で、"
                "後日保険者に請求できます",
                G,
                "資格確認書があれば番号で確認できます。どちらもなければ10割負担で、療養費を保険者に請求します。",
            ),
            Phrase(
                "declaration",
                "では申立書に記入してください",
                W,
                "申立書はマイナ保険証を提示したのに確認できなかった場合のものです。持参なしは10割です。",
                Mistake.RUNG_SKIPPED,
            ),
            Phrase(
                "come-back",
                "次は忘れないでくださいね。今日は全額です",
                A,
                "10割負担は正しいですが、責める言い方は避け、資格確認書の有無と療養費の請求を案内します。",
            ),
        ),
        _u(
            "no-myna",
            "マイナ保険証は使いたくありません",
            "I don't want to use the My Number card for insurance.",
            Phrase(
                "kakunin",
                "資格確認書をお持ちでしたら、そちらで受付できます",
                G,
                "資格確認書で受診できます。マイナ保険証の利用は強制ではありません。",
            ),
            Phrase(
                "explain",
                "マイナ保険証だとお薬の情報を共有できて便利ですが、資格確認書でも受付できます",
                A,
                "メリットを伝えるのはよいことですが、まず受付できる方法を示します。",
            ),
            Phrase(
                "must",
                "今はマイナ保険証でないと受診できません",
                W,
                "誤りです。資格確認書で受診できます。",
                Mistake.BLAME,
            ),
        ),
        _u(
            "face-failed",
            "顔認証がうまくいきません",
            "Face recognition does not work.",
            Phrase(
                "pin-or-visual",
                "暗証番号でも受付できます。難しければこちらでお顔を確認します（目視確認）",
                G,
                "顔認証ができないときは暗証番号、それも難しければ職員の目視確認です。",
            ),
            Phrase(
                "retry",
                "もう一度カメラを見てください",
                A,
                "もう一度はよいですが、何度も繰り返させず次の方法を案内します。",
            ),
            Phrase(
                "take",
                "カードをお預かりして、こちらで読み取りますね",
                W,
                "カードは預かりません。",
                Mistake.TAKE_CARD,
            ),
        ),
        _u(
            "only-notice",
            "この「資格情報のお知らせ」だけで受診できますか",
            "Can I see the doctor with only this notice?",
            Phrase(
                "with-card",
                "お知らせはマイナ保険証と一緒にご提示ください。お知らせだけでは確認になりません",
                G,
                "資格情報のお知らせは単独では使えず、マイナ保険証とあわせて提示します（2026年4月以降）。",
            ),
            Phrase(
                "ok",
                "はい、お知らせで大丈夫です",
                W,
                "お知らせ単独での受診は2026年3月末までの暫定措置でした。",
            ),
        ),
        _u(
            "kakunin-expiring",
            "資格確認書の期限が来月で切れるのですが",
            "My 資格確認書 expires next month.",
            Phrase(
                "insurer",
                "期限の前に保険者から新しい資格確認書が届きます。届かないときは保険者にお問い合わせください",
                G,
                "資格確認書はマイナ保険証を持たない方に保険者が更新して交付します。",
            ),
            Phrase(
                "register",
                "マイナ保険証に登録されると便利ですよ",
                A,
                "登録の案内はよいですが、まず更新の手続きを伝えます。",
            ),
            Phrase(
                "unusable",
                "期限が切れたらもう受診できません",
                W,
                "誤りです。新しい資格確認書かマイナ保険証で受診できます。",
            ),
        ),
        _u(
            "cert-expired",
            "カードの電子証明書の期限が切れていると言われました",
            "I was told my card's electronic certificate has expired.",
            Phrase(
                "grace-renew",
                "期限が切れてから3か月間は保険証として使えます。お早めにお住まいの市区町村で更新してください",
                G,
                "電子証明書の期限切れから3か月間は資格確認に使えます。更新は市区町村の窓口です。",
            ),
            Phrase(
                "kakunin-renew",
                "期限切れから3か月を過ぎるとカードは保険証として使えません。"
                "資格確認書で受付します。電子証明書は市区町村の窓口で更新できます",
                G,
                "3か月を過ぎると保険者から資格確認書が届きます。それで受付し、更新先を伝えます。",
            ),
            Phrase(
                "full-pay",
                "このカードはもう使えないので、今日は10割のご負担です",
                W,
                "誤りです。猶予期間内ならカードで、過ぎていれば資格確認書で受付できます。",
            ),
        ),
        _u(
            "welfare",
            "生活保護を受けています。医療券は持っていません",
            "I receive public assistance; I have no 医療券.",
            Phrase(
                "office",
                "福祉事務所に連絡して、医療券の発行をお願いしますね",
                G,
                "医療扶助は福祉事務所が医療券を発行します。申立書の対象ではありません。",
            ),
            Phrase(
                "declaration",
                "では申立書を書いてください",
                W,
                "生活保護の方は被保険者ではないので申立書は使えません。",
            ),
        ),
    )
}
