"""Reception facts for people: the label tables and the lines the CLI and the TUI show,
in one place (Japanese: staff read them at the counter)."""

from __future__ import annotations

from reception.code_tables import LIMIT_CATEGORIES, LIMIT_CERTIFICATES, SPECIFIC_DISEASES, coded
from reception.error_screens import screen_in
from reception.kakunin import card_line
from reception.reasons import FallbackReason
from reception.results import QualificationEntry, QualificationResult, ratio_label
from reception.store import Reception, ReceptionStatus, Store
from reception.vocabulary import ReceptionMethod, Route

STATUS_LABELS = {
    ReceptionStatus.CONFIRMED: "確認済",
    ReceptionStatus.CONFIRMED_NOTICE: "確認済（お知らせ）",
    ReceptionStatus.CONFIRMED_CERTIFICATE: "確認済（資格確認書）",
    ReceptionStatus.DECLARED: "申立書受付",
    ReceptionStatus.FALLBACK: "要代替確認",
    ReceptionStatus.PENDING: "保留（要代替確認）",
    ReceptionStatus.SELF_PAY: "10割負担（療養費払い）",
    ReceptionStatus.ERROR: "エラー",
    ReceptionStatus.CANCELLED: "取消",
    ReceptionStatus.INTERRUPTED: "中断（端末終了）",
    ReceptionStatus.IN_PROGRESS: "受付中",
}
OUTCOME_SENTENCES = {
    ReceptionStatus.CONFIRMED: "資格確認できました",
    ReceptionStatus.CONFIRMED_NOTICE: "資格情報のお知らせ／マイナポータルで資格を確認しました",
    ReceptionStatus.CONFIRMED_CERTIFICATE: "資格確認書で資格を確認しました",
    ReceptionStatus.DECLARED: "被保険者資格申立書を受け付けました（申立ての負担割合で受付）",
    ReceptionStatus.FALLBACK: "資格確認できません（代替手段へ）",
    ReceptionStatus.PENDING: "資格確認を完了できません（保留：理由を確認し代替手段へ）",
    ReceptionStatus.SELF_PAY: "今回は10割負担です（後日、保険者へ療養費を請求）",
    ReceptionStatus.ERROR: "中断しました",
    ReceptionStatus.CANCELLED: "取り消しました",
    ReceptionStatus.INTERRUPTED: "中断しました（端末終了）",
    ReceptionStatus.IN_PROGRESS: "受付中",
}
METHOD_LABELS = {method.value: method.short_label for method in ReceptionMethod}
FAMILY = {"1": "本人", "2": "家族"}
SEX = {"1": "男", "2": "女", "3": "未設定"}
LADDER_HINT = (
    "資格情報のお知らせ／マイナポータル、資格確認書、被保険者資格申立書の順に確認してください"
)


def method_label(method: ReceptionMethod | None, route: Route = Route.READER) -> str:
    """「暗証番号」, or 「暗証番号（居宅同意取得型）」 where the staff-held reader read the card."""
    label = METHOD_LABELS[method] if method else "—"
    return f"{label}（居宅同意取得型）" if route is Route.COUNTER else label


def the_entry(result: QualificationResult | None) -> QualificationEntry | None:
    """The one qualification of a result (None when there are none or several)."""
    if result is None or len(result.entries) != 1:
        return None
    return result.entries[0]


LOSS_REASONS = {
    "01": "死亡",
    "02": "生活保護受給開始",
    "03": "医療保険等の資格取得",
    "99": "その他",
}


def day(text: str | None) -> str:
    """ "20261124" (or "2026-11-24") → "2026/11/24": the one form of a date on screen;
    anything else as it is ("—" when absent)."""
    if text and len(text) == 10 and text[4] == text[7] == "-":
        text = text.replace("-", "")
    if text and len(text) == 8 and text.isdigit():
        return f"{text[:4]}/{text[4:6]}/{text[6:]}"
    return text or "—"


def moment(text: str) -> str:
    """A stored time ("2026-12-06T10:02:03…") as on screen: "2026/12/06 10:02:03"."""
    return f"{day(text[:10])} {text[11:19]}".strip()


UNPROCESSED = {
    FallbackReason.NOT_REGISTERED: "未登録（保険証利用登録がありません）",
    FallbackReason.CERTIFICATE_LAPSED: "確認できません（電子証明書の失効・期限切れ）",
    FallbackReason.CERTIFICATE_REVOKED: "確認できません（電子証明書の失効・期限切れ）",
}
"""What a result the service did not process means for staff, by the reception's
fallback reason: an unregistered card or a lapsed certificate is not a service error."""


def validity_line(result: QualificationResult, reason: FallbackReason | None) -> str:
    """資格有効性 as staff read it: the service's validity, or — for a query it did not
    process — what happened (未登録, the certificate), 照会エラー only for the rest."""
    if result.processed:
        return result.validity_label
    said = UNPROCESSED.get(reason) if reason is not None else None
    if said is not None:
        return said
    message = result.message_body.processing_result_message
    return f"照会エラー（{message}）" if message else "照会エラー"


def medical_aid_lines(entry: QualificationEntry) -> list[str]:
    """医療扶助: the 福祉事務所 and the month's 医療券 / 調剤券 entrusting this clinic — or
    that none does, and whom to call."""
    if not entry.medical_aid:
        return []
    lines = [
        f"医療扶助（生活保護）  公費負担者 {entry.insurer_name or '—'}"
        f"（{(entry.insurer_number or '').strip()}）  受給者番号 "
        f"{entry.insured_identification_number}  連絡先は福祉事務所"
    ]
    for ticket in entry.medical_tickets:
        month = ticket.medical_treatment_month or ""
        if not ticket.entrusted:
            lines.append(
                f"{ticket.kind}（{month[:4]}年{month[4:]}月分）: 未委託・未登録 — "
                "福祉事務所に医療券の発行を依頼してください"
            )
            continue
        lines.append(
            f"{ticket.kind} 交付番号 {ticket.issue_number}  "
            f"{day(ticket.medical_ticket_valid_date)}〜{day(ticket.medical_ticket_expiration_date)}"
            f"  指定 {ticket.designated_medical_institution_name}  本人支払額 "
            f"{ticket.self_pay_amount or '0'}円  傷病名 {ticket.injury_name1 or '—'}"
        )
    return lines


def qualification_lines(entry: QualificationEntry, *, valid: bool = True) -> list[str]:
    """A qualification as staff read it: insurer, numbers, the person, the share. One that
    is not valid shows when and why it was lost, never a share as if it still held."""
    person = f"氏名 {entry.name}（{entry.name_kana}）  生年月日 {day(entry.birthdate)}"
    lines = [
        f"保険者 {entry.insurer_name or '—'}  保険者番号 {(entry.insurer_number or '').strip()}",
        f"記号 {entry.insured_card_symbol or '—'}  番号 {entry.insured_identification_number}"
        f"  枝番 {entry.insured_branch_number or '—'}",
    ]
    if not valid:
        lost = day(entry.disqualification_date)
        why = LOSS_REASONS.get(entry.reason_of_loss or "", entry.reason_of_loss or "—")
        return [*lines, person, f"この資格は無効です — 喪失日 {lost}（事由 {why}）"]
    sex = SEX.get(entry.sex1 or "", "未設定")
    if entry.sex2 and entry.sex2 != entry.sex1:  # the card prints the sex the patient lives as
        sex += f"（券面 {SEX.get(entry.sex2, '未設定')}）"
    lines.append(f"{person}  性別 {sex}")
    if entry.name_of_other:  # a 通称名 reported to the insurer: the name the patient goes by
        lines.append(f"通称名 {entry.name_of_other}（{entry.name_of_other_kana or '—'}）")
    lines += [
        f"本人・家族 {FAMILY.get(entry.personal_family_classification or '', '—')}"
        f"  負担割合 {entry.ratio}",
    ]
    if entry.insured_card_valid_date:
        until = entry.insured_card_expiration_date
        lines.append(
            f"有効開始 {day(entry.insured_card_valid_date)}"
            + (f"  有効期限 {day(until)}" if until else "")
        )
    card = card_line(entry)  # the 資格確認書's validity (8/1–7/31 for 後期)
    if card is not None:
        lines.append(card)
    elderly = entry.elderly_recipient_certificate_info
    if elderly is not None:
        lines.append(
            f"高齢受給者 {ratio_label(elderly.elderly_recipient_contribution_ratio)}"
            f"（{day(elderly.elderly_recipient_valid_start_date)}〜"
            f"{day(elderly.elderly_recipient_valid_end_date)}）"
        )
    limit = entry.limit_application_certificate_related_info
    if limit is not None:
        kind = limit.limit_application_certificate_classification
        lines.append(
            "限度額適用区分 "
            f"{coded(LIMIT_CATEGORIES, limit.limit_application_certificate_classification_flag)}"
            f"  {day(limit.limit_application_certificate_valid_start_date)}〜"
            f"{day(limit.limit_application_certificate_valid_end_date)}"
            + (f"  {coded(LIMIT_CERTIFICATES, kind)}" if kind else "")
        )
    for disease in entry.specific_diseases:
        lines.append(
            f"特定疾病 {coded(SPECIFIC_DISEASES, disease.specific_diseases_disease_category)}"
            f"  自己負担上限 {disease.specific_diseases_self_pay or '—'}円/月"
        )
    lines += medical_aid_lines(entry)
    for subsidy in entry.medical_subsidies:
        cap = subsidy.max_copayment_amount
        lines.append(
            f"公費 {subsidy.certification_name}  公費負担者番号 "
            f"{subsidy.medical_subsidy_insurer_number}  受給者番号 "
            f"{subsidy.medical_subsidy_recipient_number}  "
            f"{day(subsidy.medical_subsidy_valid_start_date)}〜"
            f"{day(subsidy.medical_subsidy_valid_end_date)}  自己負担上限 "
            + (f"{cap}円/月" if cap is not None else "なし")
            + ("  （常に償還払い）" if subsidy.always_reimbursed else "")
        )
    consent = "同意あり" if entry.medication_consent else "同意なし"
    lines.append(f"診療・薬剤情報 {consent}")
    if entry.prescription_label:
        lines.append(f"処方箋 {entry.prescription_label}")
    return lines


def reception_row(store: Store, reception: Reception) -> list[str]:
    """One line of today's list: time, name, method, result, share, notices (the reader's
    numbered screen first while the reception waits for the ladder)."""
    results = store.results_of(reception.reception_id)
    last = results[-1] if results else None
    entry = the_entry(last)
    screen = None if reception.status.settled else screen_in(reception.reason)
    said = ([screen.heading()] if screen is not None else []) + (last.notices if last else [])
    return [
        reception.started_at[11:16],
        entry.name if entry and entry.name else "—",
        method_label(reception.method, reception.route),
        STATUS_LABELS[reception.status],
        entry.ratio if entry else "—",
        " / ".join(said),
    ]


def reception_detail(store: Store, reception_id: str) -> list[str]:
    """Everything staff need about one reception: outcome, qualifications, ladder rungs."""
    reception = store.reception(reception_id)
    lines = [
        f"受付 {reception.reception_id}  {moment(reception.started_at)}",
        f"方法 {method_label(reception.method, reception.route)}  結果 "
        f"{STATUS_LABELS[reception.status]}",
    ]
    if reception.reason:
        screen = screen_in(reception.reason)
        if screen is None or not reception.reason.endswith(screen.staff_ja):
            lines.append(f"理由 {reception.reason}")  # (else the 画面 line says it all)
        if screen is not None:  # the reader's numbered screen: what staff do
            lines.append(f"画面 {screen.staff_line()}")
    results = store.results_of(reception_id)
    if results:
        last = results[-1]
        lines.append(f"資格有効性 {validity_line(last, reception.fallback_reason)}")
        for entry in last.entries:
            lines += qualification_lines(entry, valid=last.is_valid)
        lines += [f"※{n}" for n in last.notices]  # no space: a long CJK notice wrapped
        # as one word left 「※」 alone on its line
    for step, detail in store.steps_of(reception_id):
        lines.append(f"代替確認: {step} — {detail}")
    return lines


def patient_notices(result: QualificationResult | None, reason: FallbackReason | None) -> list[str]:
    """What the patient must be told at the reader, as codes: the certificate's renewal
    notice and its grace period (oqs.md §5), or that it can no longer be used."""
    codes = [c for c in (result.notice_codes() if result else []) if c in _PATIENT_CODES]
    if reason is FallbackReason.CERTIFICATE_LAPSED:
        codes.append("certificate-lapsed")
    return codes


_PATIENT_CODES = {"certificate-renewal-due", "certificate-grace"}
