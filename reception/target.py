"""Whose reception a ladder action acts on, and whether it may.

Every front end (the TUI's forms and buttons, the CLI) names the reception and the
patient at the top of a ladder action and asks :func:`refusal` before it writes: a
reception already settled (確認済, 申立書受付, 10割) takes no more rungs, and a form whose
name differs from the reception's patient is not silently attached to it (issue 22 §1:
a 申立書 for one patient was saved on another's confirmed reception).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from reception.present import STATUS_LABELS
from reception.store import ReceptionStatus, Store


@dataclass(frozen=True)
class LadderTarget:
    """A reception as a ladder action sees it: its id, its patient (the name of its last
    result with one qualification; None when no result names anyone) and its status."""

    reception_id: str
    patient: str | None
    status: ReceptionStatus

    @property
    def settled(self) -> bool:
        return self.status.settled

    def heading(self) -> str:
        """「受付 R… ・ 高橋 陽菜 ・ 保留（要代替確認）」: the line at the top of every
        ladder action."""
        who = self.patient or "氏名不明（カードで確認できていません）"
        return f"受付 {self.reception_id} ・ {who} ・ {STATUS_LABELS[self.status]}"


def ladder_target(store: Store, reception_id: str) -> LadderTarget:
    """The reception ``reception_id`` (NotFound when there is none) with its patient."""
    reception = store.reception(reception_id)
    patient: str | None = None
    for result in reversed(store.results_of(reception_id)):
        names = {e.name for e in result.entries if e.name}
        if len(names) == 1:
            patient = names.pop()
            break
    return LadderTarget(reception_id, patient, reception.status)


def name_key(name: str) -> str:
    """A name as compared: NFKC, without any kind of space (a form's ASCII space and a
    result's ideographic U+3000 are the same name)."""
    return "".join(unicodedata.normalize("NFKC", name).split())


def same_name(a: str, b: str) -> bool:
    """Names compared as staff would: :func:`name_key`, and case ignored
    (「高橋　陽菜」 is 「高橋 陽菜」 is 「高橋陽菜」)."""
    return name_key(a).casefold() == name_key(b).casefold()


def refusal(target: LadderTarget, *, name: str | None = None) -> str | None:
    """Why this action must not be recorded on ``target`` as it stands (None: it may).

    A settled reception takes no rung; a ``name`` (the one on the form) that differs
    from the reception's patient is refused so that staff choose the right reception
    or start a new one."""
    if target.settled:
        return (
            f"受付 {target.reception_id}（{target.patient or '氏名不明'}）は既に"
            f"「{STATUS_LABELS[target.status]}」です: 代替手段は記録できません"
            "（別の方なら、その方の受付を選ぶか新しい受付にしてください）"
        )
    if name and target.patient and not same_name(name, target.patient):
        return (
            f"申立書の氏名「{name}」が受付 {target.reception_id} の方"
            f"（{target.patient}）と違います: その方の受付を選ぶか、受付なしで保存してください"
        )
    return None
