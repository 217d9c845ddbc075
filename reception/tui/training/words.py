"""The 研修 tab's words (presentation only): a case's situation, the documents a
patient hands over, and the lines of a case's score. Plain strings: the widgets escape
them (a scenario is a trainer's file, a persona's name comes from the world)."""

from __future__ import annotations

import hashlib
from typing import Any

from reception.training.phrases import Phrase, Utterance
from reception.training.scenario import Case, Document, FaceOutcome, Fault, PatientMethod
from reception.training.scoring import CaseScore

METHOD_WORDS = {
    PatientMethod.PIN: "暗証番号で",
    PatientMethod.FACE: "顔認証で",
    PatientMethod.VISUAL: "目視確認を希望して",
}
FAULT_WORDS = {
    Fault.OUTAGE: "オンライン資格確認のサービスが止まっています。",
    Fault.READER: "顔認証付きカードリーダーが故障しています。",
    Fault.CONNECTION_LOST: "読み取りの途中で回線が切れます。",
    Fault.SLOW: "サービスの応答が遅くなっています。",
}
RATIOS = (0, 1, 2, 3, 10)  # 割, as the 会計 charges them


def situation(case: Case, persona: dict[str, Any]) -> str:
    """The patient's situation in words, for the top of the 研修 tab."""
    s = case.situation
    who = f"{persona.get('name', case.persona)}さん（{persona.get('birth_date', '')} 生まれ）"
    brings = "、".join(d.label for d in s.brings) or "何も持っていません"
    lines = [f"患者さん: {who}", f"持ち物: {brings}"]
    if s.places_card:
        how = METHOD_WORDS[s.method]
        if s.wrong_pins:
            how = f"暗証番号を{s.wrong_pins}回間違えてから" + how
        if s.face is not FaceOutcome.SAME:
            how += "（顔認証は通りません）"
        holds = "スマートフォンをかざし" if s.holds_phone else "カードを置き"
        lines.append(f"リーダーに{holds}、{how}本人確認をします。")
    else:
        lines.append("カードリーダーは使いません。窓口で対応してください。")
    if s.fault is not Fault.NONE:
        lines.append(FAULT_WORDS[s.fault])
    return "\n".join(lines)


def document(doc: Document, persona: dict[str, Any], ratio: int) -> str:
    """What is written on a document the patient hands over (what staff read off it)."""
    numbers = persona.get("numbers") or {}
    expect = persona.get("expect") or {}
    name = persona.get("name", "")
    match doc:
        case Document.KAKUNIN | Document.OLD_CARD:
            expires = (expect.get("kakunin") or {}).get("expires") or (
                expect.get("old_card") or {}
            ).get("printed_until")
            line = (
                f"{doc.label}: {name} 保険者番号 {numbers.get('current_insurer_number', '')}"
                f" 記号 {numbers.get('current_symbol', '')}"
                f" 番号 {numbers.get('current_number', '')}"
                f" 枝番 {numbers.get('current_branch') or ''}"
                f" 生年月日 {persona.get('birth_date', '')}"
            )
            return line + (f" 有効期限 {expires}" if expires else "")
        case Document.NOTICE | Document.PORTAL:
            shown = expect.get("ratio")
            seen = int(shown) // 10 if isinstance(shown, str) and shown.isdigit() else ratio
            return (
                f"{doc.label}: {name} 保険者番号 "
                f"{numbers.get('current_insurer_number', '')} 一部負担金の割合 {seen}割"
            )
    return str(doc.label)


def phrase_order(case_id: str, utterance: Utterance) -> list[Phrase]:
    """The phrases in an order of their own for each case (never the good one first
    always: the list would give the answer away), the same every time."""

    def key(phrase: Phrase) -> str:
        return hashlib.sha256(f"{case_id}/{phrase.id}".encode()).hexdigest()

    return sorted(utterance.phrases, key=key)


def score_lines(score: CaseScore) -> list[tuple[bool, str]]:
    """Each item as (right, line): ✓ or ✗ in the text itself, not only in a colour."""
    return [
        (item.ok, f"{'✓' if item.ok else '✗'} {item.label} {item.got}/{item.max}  {item.note}")
        for item in score.items
    ]


def mistake_lines(score: CaseScore) -> list[str]:
    return [f"✗ {m.label}（−{m.cost}点）: {m.detail}\n  なぜ: {m.why}" for m in score.mistakes]


def minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}分{whole % 60:02d}秒" if whole >= 60 else f"{whole}秒"
