"""Playing a run headless (issue 25 §2): the model answer (what ``reception train check``
plays: it must score 100 %) or a trainee's actions from a file, case after case, on a
simulated clock — patients arrive every ``clinic.arrival_every`` seconds, each case
takes the seconds its trainee file says (the model: half its time target), and a
patient waits while the one before is handled.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from reception.ladder_rules import is_elderly, last_notice_day
from reception.training.actions import (
    Accept,
    Action,
    Certificate,
    Charge,
    Counter,
    Declare,
    NoCard,
    Notice,
    Recheck,
    Refuse,
    Say,
    TraineeFile,
    WelfareOffice,
)
from reception.training.run import CaseDesk, TrainingRun
from reception.training.scenario import Case, EndState, Fault, PatientMethod
from reception.training.scoring import CaseScore, RunReport


def model_actions(case: Case, persona: dict[str, Any], day: dt.date) -> list[Action]:
    """The case's model handling as a trainee's actions."""
    model = case.model
    actions: list[Action] = [
        Say(utterance=uid, phrase=case.good_words(uid)[0]) for uid in case.situation.says
    ]
    actions += [Accept(document=d) for d in model.accept]
    actions += [Refuse(document=d) for d in model.refuse]
    ratio = f"{model.ratio}割"
    match model.end:
        case EndState.COUNTER:
            pin = case.situation.method is PatientMethod.PIN and case.situation.wrong_pins < 3
            actions.append(Counter(method=PatientMethod.PIN if pin else PatientMethod.VISUAL))
        case EndState.NOTICE:
            birth = str(persona["birth_date"])
            expires = _notice_expiry(dt.date.fromisoformat(birth), day)
            actions.append(
                Notice(detail=f"資格情報のお知らせ {ratio}", expires=expires, birth_date=birth)
            )
        case EndState.PORTAL:
            actions.append(Notice(do="portal", detail=f"マイナポータル 資格情報 {ratio}"))
        case EndState.CERTIFICATE:
            actions.append(Certificate())
        case EndState.OLD_CARD:
            actions.append(Certificate(do="old-card"))
        case EndState.DECLARED:
            actions.append(Declare(fields=_declared_numbers(model.billing, persona)))
        case EndState.SELF_PAY:
            actions.append(NoCard())
        case EndState.WELFARE_OFFICE:
            actions.append(WelfareOffice())
    if case.situation.fault is Fault.CONNECTION_LOST and model.end is EndState.CARD:
        # the check-in ended pending; once the line is back the patient places the card
        # again (the reception's recheck), and the card confirms
        actions.append(Recheck())
    actions.append(Charge(ratio=model.ratio))
    return actions


def _declared_numbers(billing: str | None, persona: dict[str, Any]) -> dict[str, str]:
    """What the 申立書 says of the numbers, for its billing hint: ``current``, the
    numbers the patient knows (their current ones); ``previous``, the qualification the
    service showed as lost (staff copy it from the result); else none (不詳)."""
    numbers: dict[str, str] = persona.get("numbers") or {}
    if billing == "current":
        return {
            key: numbers[f"current_{key}"]
            for key in ("insurer_number", "symbol", "number", "branch")
            if numbers.get(f"current_{key}")
        }
    if billing == "previous":
        which = "old" if "old_insurer_number" in numbers else "current"
        return {
            f"previous_{key}": numbers[f"{which}_{key}"]
            for key in ("insurer_number", "symbol", "number")
            if numbers.get(f"{which}_{key}")
        }
    return {}


def _notice_expiry(birth: dt.date, day: dt.date) -> str | None:
    """A 70+ patient's お知らせ is printed with 有効期限 7/31 — the coming one, as on a
    お知らせ in date (reception/ladder_rules.py); others have none."""
    return last_notice_day(day).isoformat() if is_elderly(birth, day) else None


async def handle(
    desk: CaseDesk,
    actions: list[Action],
    *,
    pace: float = 0.0,
    on_step: Callable[[str], None] | None = None,
) -> None:
    """A case at the counter: the patient at the reader (unless the case resumed after
    their check-in), then each of the trainee's actions. Settling is the caller's."""
    if desk.reception_id is None:
        await desk.patient_checks_in(pace=pace, on_step=on_step)
    for action in actions:
        said = await desk.act(action)
        if on_step is not None:
            on_step(f"{action.do}: {said}")


async def play(
    run: TrainingRun,
    trainee: TraineeFile | None,
    on_case: Callable[[CaseScore], None] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> RunReport:
    """Every case not yet settled: the trainee's actions (None: the model answer's)."""
    every = run.loaded.scenario.clinic.arrival_every
    meta = run.journal.meta()
    clock = float(meta.get("clock", "0"))
    while (found := run.next_case()) is not None:
        position, case = found
        arrival = position * every
        start = max(arrival, clock)
        desk = run.begin(waited=start - arrival)
        if desk is None:  # pragma: no cover (next_case said there is one)
            break
        if trainee is None:
            actions = model_actions(case, desk.persona, run.day)
            seconds = case.model.seconds / 2
        else:
            mine = trainee.of(case.id)
            actions = list(mine.actions) if mine is not None else []
            seconds = mine.seconds if mine is not None else case.model.seconds * 3
        await handle(desk, actions, on_step=on_step)
        result = desk.settle(seconds)
        clock = start + seconds
        run.journal.set_meta(clock=str(clock))
        if on_case is not None:
            on_case(result)
    return run.finish()
