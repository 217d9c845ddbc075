"""What the patient reads on the reader panel, in Japanese and English.

Patient words, never staff words: the panel tells the patient what to do (「受付窓口にお
声がけください」), staff read the ladder on their console (the flow's ``message``, the
detail). So the panel never shows the flow's message as it is: it says the state it is
in with a text of its own (:func:`question_note`, :func:`outcome_lines`), in either
language. Every key has both languages (a test walks every view in English).

Sources for what the patient is told:

- Real readers' error screens end with 「受付窓口にご連絡ください」 (【001】 カードの認識不可,
  【006】 利用者証明用電子証明書の失効・有効期限切れ; vendors' FAQ pages, oqs.md §8).
- A locked PIN (3 wrong tries) is undone at the municipal office (市区町村の窓口): J-LIS,
  公的個人認証サービス FAQ 「電子証明書に関するトラブル」 (www2.jpki.go.jp/faq/trouble/
  iccard_digital_id.html: 「発行を受けた市区町村窓口にてパスワードのロック解除とともに、
  パスワード初期化申請」); since 2024 also by the 「JPKI暗証番号リセット」 app and a convenience
  store's kiosk — only for someone who knows the *other* (署名用, 6–16 characters)
  password (City of Naha, 2024-09-20, 「コンビニで電子証明書の暗証番号の再設定（初期化）が
  できるようになりました」; Niigata City FAQ B0308805: 「どちらか片方の電子証明書の暗証番号を把握
  している場合は、コンビニエンスストア等で手続できます」). The panel names the office first
  and the shop with its condition.
"""

from __future__ import annotations

from reception.flow import Variant
from reception.reasons import FallbackReason

VARIANT_EN = {
    Variant.PHYSICAL: "My Number card",
    Variant.FACE_ONLY: "My Number card (face recognition only)",
    Variant.ANDROID: "Smartphone (Android)",
    Variant.IPHONE: "Smartphone (iPhone)",
}

TEXT: dict[str, dict[str, str]] = {
    "ja": {
        "wait": "マイナンバーカードを置いてください",
        "wait_sub": "スマートフォンの方は「スマートフォン」を選んでください",
        "wait_keys": "キー c: マイナンバーカード ・ s: スマートフォン",
        "wait_card": "マイナンバーカード",
        "wait_phone": "スマートフォン",
        "phone": "スマートフォンを読み取り部にかざしてください",
        "phone_separate": "スマートフォンを、スマートフォン用の読み取り部にかざしてください",
        "phone_sub": "Android：暗証番号をこの画面で入力します\n"
        "iPhone：iPhone の画面で本人確認します",
        "card": "マイナンバーカードを読み取り部に置いてください",
        "card_sub": "カードを置くと始まります",
        "method": "本人確認の方法を選んでください",
        "method_iphone": "iPhoneで本人確認",
        "method_keys": "キー {keys}",
        "method_keys_sep": " ・ ",
        "method_key_face": "1: 顔認証",
        "method_key_pin": "2: 暗証番号",
        "method_key_pin_iphone": "2: iPhoneで本人確認",
        "method_key_visual": "3: 職員による目視確認",
        "method_key_cancel": "Esc: やめる",
        "pin": "暗証番号（数字4桁）を入力してください",
        "tries": "残り{n}回",
        "pin_keys": "数字キーで入力\nEnter で確定 ・ Backspace で1文字消す",
        "pin_short": "4桁を入力してください",
        "pin_wrong": "暗証番号が違います（あと{n}回）",
        "pin_locked": "暗証番号がロックされています。顔認証か、職員による目視確認で続けられます",
        "pin_locked_face": "暗証番号がロックされています。顔認証で続けられます",
        "pin_locked_phone": "スマートフォンの暗証番号がロックされています。"
        "受付窓口にお声がけください",
        "pin_unlock": "ロックの解除は、お住まいの市区町村の窓口でできます"
        "（署名用電子証明書の暗証番号がわかる方は、スマートフォンのアプリ"
        "「JPKI暗証番号リセット」とコンビニのキオスク端末でもできます）",
        "face": "カメラの方を向いてください",
        "face_shoot": "撮影する",
        "face_failed": "顔が一致しませんでした（あと{n}回）",
        "face_closed": "顔認証はこれ以上できません。暗証番号か、職員による目視確認で続けてください",
        "face_closed_pin": "顔認証はこれ以上できません。暗証番号で続けてください",
        "face_closed_visual": "顔認証はこれ以上できません。職員による目視確認で続けてください",
        "face_demo": "デモ：カメラに写るもの",
        "scenario_same": "本人",
        "scenario_other": "別人",
        "scenario_poor": "撮影不良",
        "visual": "職員が確認しています。しばらくお待ちください",
        "consents": "情報の提供に同意しますか",
        "consents_items": "診療情報・薬剤情報 ／ 特定健診情報 ／ 手術情報",
        "bundle": "まとめて同意",
        "each": "個別に選ぶ",
        "none": "同意しない",
        "consents_keys": "キー y: まとめて同意 ・ n: 同意しない",
        "each_keys": "Space でチェック ・ Tab で移動 ・ Enter で確定",
        "prescription": "処方箋の受け取り方を選んでください",
        "prescription_sub": "電子処方箋：薬局でマイナ保険証を提示して受け取ります",
        "prescription_1": "電子処方箋",
        "prescription_2": "紙の処方箋",
        "prescription_keys": "キー 1: 電子処方箋 ・ 2: 紙の処方箋",
        "subsidy": "医療費助成の各種受給者証を利用しますか",
        "subsidy_sub": "子ども医療費・難病など、お住まいの自治体の受給者証の情報を使います",
        "subsidy_yes": "利用する",
        "subsidy_no": "利用しない",
        "subsidy_keys": "キー y: 利用する ・ n: 利用しない",
        "register": "マイナンバーカードの保険証利用登録がされていません",
        "register_sub": "このまま登録すると、今日から健康保険証として使えます。登録しますか",
        "register_yes": "登録する",
        "register_no": "登録しない",
        "register_keys": "キー y: 登録する ・ n: 登録しない",
        "notice_certificate-renewal-due": "電子証明書の有効期限が近づいています。"
        "お住まいの市区町村の窓口で更新してください",
        "notice_certificate-grace": "電子証明書の有効期限が切れています。今すぐお住まいの"
        "市区町村の窓口で更新してください（今回は保険の資格だけを確認しました）",
        "notice_certificate-lapsed": "電子証明書の有効期限が切れ、猶予期間も過ぎています。"
        "お住まいの市区町村の窓口で更新してください",
        "all": "すべて同意する",
        "limit": "限度額情報を提供しますか",
        "limit_yes": "提供する",
        "limit_no": "提供しない",
        "ok": "確定",
        "clear": "訂正",
        "back": "戻る",
        "cancel": "やめる",
        "working": "お待ちください…",
        "card_word": "カード",
        "phone_word": "スマートフォン",
        "done": "受付が完了しました。{what}をお取りください",
        "ratio": "負担割合 {ratio}",
        "registered": "保険証利用登録をしました",
        "desk": "受付窓口にお声がけください。{what}をお取りください",
        "error": "確認できませんでした。{what}をお取りのうえ、受付窓口にお声がけください",
        "removed": "{what}が離れました。もう一度置いてください",
        "wrong_card": "予定の{what}ではありません。"
        "{what}をお取りのうえ、受付窓口にお声がけください",
        "reason_qualification": "保険の資格を確認できませんでした",
        "reason_not-registered": "マイナンバーカードの保険証利用登録がされていません",
        "reason_certificate-revoked": "カードの電子証明書が使えません",
        "reason_service-unavailable": "ただいま保険の資格を確認できません",
        "reason_reader-fault": "読み取り機が使えません",
        "reason_card-defect": "カードを読み取れませんでした",
    },
    "en": {
        "wait": "Please place your My Number card",
        "wait_sub": 'Using a smartphone? Choose "Smartphone"',
        "wait_keys": "Keys c: My Number card · s: smartphone",
        "wait_card": "My Number card",
        "wait_phone": "Smartphone",
        "phone": "Hold your smartphone over the reader",
        "phone_separate": "Hold your smartphone over the smartphone reader",
        "phone_sub": "Android: enter your PIN on this screen\niPhone: confirm on the iPhone",
        "card": "Place your My Number card on the reader",
        "card_sub": "It starts when the card is in place",
        "method": "Choose how to confirm your identity",
        "method_iphone": "Confirm on the iPhone",
        "method_keys": "Keys {keys}",
        "method_keys_sep": " · ",
        "method_key_face": "1: face",
        "method_key_pin": "2: PIN",
        "method_key_pin_iphone": "2: confirm on the iPhone",
        "method_key_visual": "3: staff visual check",
        "method_key_cancel": "Esc: cancel",
        "pin": "Enter your 4-digit PIN",
        "tries": "{n} tries left",
        "pin_keys": "Type the digits\nEnter to confirm · Backspace to delete one",
        "pin_short": "Please enter 4 digits",
        "pin_wrong": "Wrong PIN ({n} tries left)",
        "pin_locked": "Your PIN is locked. You can go on with face recognition "
        "or a staff visual check",
        "pin_locked_face": "Your PIN is locked. You can go on with face recognition",
        "pin_locked_phone": "Your smartphone's PIN is locked. Please speak to the reception desk",
        "pin_unlock": "Your municipal office can unlock it (if you know your signature "
        "password, also the JPKI PIN reset app with a convenience-store kiosk)",
        "face": "Please face the camera",
        "face_shoot": "Take picture",
        "face_failed": "Your face did not match ({n} tries left)",
        "face_closed": "Face recognition cannot be tried again. "
        "Please use your PIN or a staff visual check",
        "face_closed_pin": "Face recognition cannot be tried again. Please use your PIN",
        "face_closed_visual": "Face recognition cannot be tried again. "
        "Please use a staff visual check",
        "face_demo": "Demo: what the camera sees",
        "scenario_same": "The holder",
        "scenario_other": "Someone else",
        "scenario_poor": "Poor picture",
        "visual": "A staff member is checking. Please wait",
        "consents": "Do you agree to share your information?",
        "consents_items": "Medical and medication / Health checkup / Surgery records",
        "bundle": "Agree to all",
        "each": "Choose each",
        "none": "Do not agree",
        "consents_keys": "Keys y: agree to all · n: do not agree",
        "each_keys": "Space to tick · Tab to move · Enter to confirm",
        "prescription": "How would you like your prescription?",
        "prescription_sub": "Electronic: collected at a pharmacy with your card",
        "prescription_1": "Electronic",
        "prescription_2": "Paper",
        "prescription_keys": "Keys 1: electronic · 2: paper",
        "subsidy": "Use your medical subsidy certificates?",
        "subsidy_sub": "Your municipality's certificates (children, intractable diseases …)",
        "subsidy_yes": "Use them",
        "subsidy_no": "Do not use",
        "subsidy_keys": "Keys y: use · n: do not use",
        "register": "Your card is not registered for use as a health insurance card",
        "register_sub": "Register it now to use it as your health insurance card from today?",
        "register_yes": "Register",
        "register_no": "Not now",
        "register_keys": "Keys y: register · n: not now",
        "notice_certificate-renewal-due": "Your card's certificate expires soon. "
        "Please renew it at your municipal office",
        "notice_certificate-grace": "Your card's certificate has expired: only your insurance "
        "was confirmed today. Please renew it at your municipal office",
        "notice_certificate-lapsed": "Your card's certificate has expired and can no longer "
        "be used. Please renew it at your municipal office",
        "all": "Agree to all",
        "limit": "Share your limit (high-cost care) information?",
        "limit_yes": "Share",
        "limit_no": "Do not share",
        "ok": "OK",
        "clear": "Clear",
        "back": "Back",
        "cancel": "Cancel",
        "working": "Please wait…",
        "card_word": "card",
        "phone_word": "smartphone",
        "done": "Done. Please take your {what}",
        "ratio": "Your share of the cost: {ratio}",
        "registered": "Your card is now registered as your health insurance card",
        "desk": "Please speak to the reception desk. Take your {what}",
        "error": "Could not confirm. Please take your {what} and speak to the reception desk",
        "removed": "The {what} left the reader. Please place it again",
        "wrong_card": "Not the {what} expected. Please take it and speak to the reception desk",
        "reason_qualification": "Your insurance could not be confirmed",
        "reason_not-registered": "Your card is not registered for use as a health insurance card",
        "reason_certificate-revoked": "Your card's certificate cannot be used",
        "reason_service-unavailable": "Your insurance cannot be checked right now",
        "reason_reader-fault": "The reader cannot be used",
        "reason_card-defect": "Your card could not be read",
    },
}

# why the card route ended, as the patient reads it (None: a notice says it already)
REASON_KEYS: dict[FallbackReason, str | None] = {
    FallbackReason.INVALID: "reason_qualification",
    FallbackReason.INVALID_NEWER: "reason_qualification",
    FallbackReason.NO_MATCH: "reason_qualification",
    FallbackReason.MULTIPLE: "reason_qualification",
    FallbackReason.CERTIFICATE_LAPSED: None,  # notice_certificate-lapsed
    FallbackReason.NOT_REGISTERED: "reason_not-registered",
    FallbackReason.CERTIFICATE_REVOKED: "reason_certificate-revoked",
    FallbackReason.OQS_UNAVAILABLE: "reason_service-unavailable",
    FallbackReason.READER_FAULT: "reason_reader-fault",
    FallbackReason.CARD_DEFECT: "reason_card-defect",
    FallbackReason.NO_CARD: None,
    FallbackReason.OTHER: None,
}


def variant_title(variant: Variant, language: str) -> str:
    """What was placed, as the panel's top line says it."""
    return variant.label if language == "ja" else VARIANT_EN[variant]


def ratio_text(code: str | None, language: str) -> str | None:
    """負担割合 as the patient reads it: "030" → 3割 / 30%; None when not a plain ratio
    (医療扶助, a code this terminal does not know): staff tell the patient then."""
    if code is None or not code.isdigit() or int(code) % 10 or not 0 < int(code) <= 100:
        return None
    return f"{int(code) // 10}割" if language == "ja" else f"{int(code)}%"
