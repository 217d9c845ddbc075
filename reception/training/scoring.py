"""Each case scored when it is settled (issue 25 §2): what happened (:class:`CaseOutcome`,
gathered from the training store and the trainee's actions) against the case's model
handling, item by item, with the mistakes that matter at any time.

Items and their points (the case's ``[case.points]``): the end state, the 負担割合
charged, the documents accepted and refused, the words chosen, the time taken (full
points within the model's ``seconds``, none at three times that; in a 朝の混雑 set the
patients' waiting counts too). Each mistake costs the scenario's penalty; a case never
scores below zero.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from reception.training.phrases import MISTAKE_WHY, UTTERANCES, Grade, Mistake
from reception.training.scenario import Case, Document, EndState, Penalties


class CaseOutcome(BaseModel):
    """What the trainee's handling of one case came to."""

    model_config = ConfigDict(extra="forbid")

    case_id: str
    reception_id: str | None = None
    status: str | None = None  # the reception's status in the training store
    end: EndState | None = None  # the end state the status and its rungs amount to
    ratio: int | None = None  # 負担割合 charged at the 会計 (割)
    accepted: list[Document] = Field(default_factory=list)
    refused: list[Document] = Field(default_factory=list)
    words: dict[str, str] = Field(default_factory=dict)  # utterance → phrase chosen
    mistakes: list[tuple[Mistake, str]] = Field(default_factory=list)  # (kind, what happened)
    billing: str | None = None  # a 申立書's billing hint
    seconds: float = 0.0  # from the patient's arrival at the counter to settled
    waited: float = 0.0  # how long the patient waited before their turn (朝の混雑)


class ScoreItem(BaseModel):
    key: str  # end, ratio, documents, words, time
    label: str
    got: int
    max: int
    note: str  # what was expected and what was done

    @property
    def ok(self) -> bool:
        return self.got == self.max


class MistakeItem(BaseModel):
    kind: Mistake
    label: str
    cost: int
    detail: str
    why: str


class CaseScore(BaseModel):
    case_id: str
    title: str
    items: list[ScoreItem]
    mistakes: list[MistakeItem]
    total: int
    max: int
    seconds: float
    waited: float = 0.0
    explain: str
    source: str

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max if self.max else 100.0


class RunReport(BaseModel):
    """A trainee's run: every case scored so far (all of them once finished)."""

    training: bool = True  # always: a training run's report, never the clinic's records
    scenario_id: str
    scenario_title: str
    trainee: str
    day: dt.date
    started: dt.datetime
    finished: dt.datetime | None = None
    cases: list[CaseScore] = Field(default_factory=list)
    case_count: int = 0  # how many cases the scenario has

    @property
    def total(self) -> int:
        return sum(c.total for c in self.cases)

    @property
    def max(self) -> int:
        return sum(c.max for c in self.cases)

    @property
    def percent(self) -> float:
        return 100.0 * self.total / self.max if self.max else 0.0


def time_points(case: Case, seconds: float, waited: float, wait_target: float | None) -> int:
    """Full within the model's seconds, falling to none at three times them; a patient
    kept waiting beyond the target (朝の混雑) halves what is left."""
    full = case.points.time
    limit = case.model.seconds
    if seconds <= limit:
        got = float(full)
    else:
        got = max(0.0, full * (1 - (seconds - limit) / (2 * limit)))
    if wait_target is not None and waited > wait_target:
        got /= 2
    return round(got)


def score(
    case: Case, outcome: CaseOutcome, penalties: Penalties, wait_target: float | None = None
) -> CaseScore:
    model, points = case.model, case.points
    items = [
        ScoreItem(
            key="end",
            label="受付の終わり方",
            got=points.end if outcome.end is model.end and _billing_ok(case, outcome) else 0,
            max=points.end,
            note=_end_note(case, outcome),
        ),
        ScoreItem(
            key="ratio",
            label="負担割合",
            got=points.ratio if outcome.ratio == model.ratio else 0,
            max=points.ratio,
            note=f"正: {model.ratio}割 / 入力: "
            + ("なし" if outcome.ratio is None else f"{outcome.ratio}割"),
        ),
        _documents(case, outcome),
        _words(case, outcome),
    ]
    waited = outcome.waited if wait_target is not None else 0.0
    got = time_points(case, outcome.seconds, waited, wait_target)
    note = f"{outcome.seconds:.0f} 秒（目安 {model.seconds:.0f} 秒）"
    if wait_target is not None:
        note += f"、待ち {waited:.0f} 秒（目安 {wait_target:.0f} 秒）"
    items.append(ScoreItem(key="time", label="時間", got=got, max=points.time, note=note))
    mistakes = [
        MistakeItem(
            kind=kind,
            label=kind.label,
            cost=penalties.of(kind),
            detail=detail,
            why=MISTAKE_WHY[kind],
        )
        for kind, detail in outcome.mistakes
    ]
    earned = sum(i.got for i in items) - sum(m.cost for m in mistakes)
    return CaseScore(
        case_id=case.id,
        title=case.title,
        items=items,
        mistakes=mistakes,
        total=max(0, earned),
        max=points.total,
        seconds=outcome.seconds,
        waited=waited,
        explain=model.explain,
        source=model.source,
    )


def _billing_ok(case: Case, outcome: CaseOutcome) -> bool:
    return case.model.billing is None or outcome.billing == case.model.billing


def _end_note(case: Case, outcome: CaseOutcome) -> str:
    done = (
        outcome.end.label
        if outcome.end is not None
        else f"未完了（{outcome.status or '受付なし'}）"
    )
    note = f"正: {case.model.end.label} / 結果: {done}"
    if case.model.billing is not None:
        note += f"（請求: 正 {case.model.billing} / 結果 {outcome.billing or 'なし'}）"
    return note


def _documents(case: Case, outcome: CaseOutcome) -> ScoreItem:
    want_in, want_out = set(case.model.accept), set(case.model.refuse)
    got_in, got_out = set(outcome.accepted), set(outcome.refused)
    checks = [d in got_in for d in want_in] + [d in got_out and d not in got_in for d in want_out]
    wrongly = got_in & want_out
    right = sum(checks) - len(wrongly)
    points = case.points.documents
    share = max(0, right) / max(1, len(checks))
    if not checks and not wrongly:  # nothing to take or refuse: right once handled at all
        got = points if outcome.end is not None else 0
    else:
        got = round(points * share)
    labels = ", ".join(d.label for d in sorted(want_in)) or "なし"
    note = f"受け付ける: {labels}"
    if want_out:
        note += f" / 受け付けない: {', '.join(d.label for d in sorted(want_out))}"
    if wrongly:
        note += f" / 誤って受け付けた: {', '.join(d.label for d in sorted(wrongly))}"
    missing = sorted(want_in - got_in)
    if missing:
        note += f" / 確認しなかった: {', '.join(d.label for d in missing)}"
    return ScoreItem(key="documents", label="書類", got=got, max=points, note=note)


def _words(case: Case, outcome: CaseOutcome) -> ScoreItem:
    says = case.situation.says
    points = case.points.words
    if not says:
        return ScoreItem(key="words", label="声かけ", got=points, max=points, note="発話なし")
    earned = 0.0
    notes = []
    for uid in says:
        chosen = outcome.words.get(uid)
        utterance = UTTERANCES[uid]
        phrase = utterance.phrase(chosen) if chosen else None
        if phrase is None:
            notes.append(f"「{utterance.text}」: 答えなし")
            continue
        if phrase.id in case.good_words(uid):
            earned += 1
            notes.append(f"「{utterance.text}」: よい")
        elif phrase.grade is Grade.WRONG:
            notes.append(f"「{utterance.text}」: 誤り — {phrase.why}")
        else:
            earned += 0.5
            notes.append(f"「{utterance.text}」: 可 — {phrase.why}")
    got = round(points * earned / len(says))
    return ScoreItem(key="words", label="声かけ", got=got, max=points, note=" / ".join(notes))
