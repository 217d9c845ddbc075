"""A training run (issue 25 §2): cases one after another, the patient played by the
simulator, the trainee's actions done through the terminal's own core on the run's own
store, each case scored when it is settled, everything journaled as it happens.

The simulator's side (a world seeded on the scenario's day, the mock service, the
patients' cards, the faults) is behind :class:`Simulator`; ``reception.sim.training``
makes one. A front end (the headless runner below, the TUI's 研修 mode) asks the run for
the next case (:meth:`TrainingRun.begin`), lets the patient check in (headless:
:meth:`CaseDesk.patient_checks_in`; the TUI: its own desk, then
:meth:`CaseDesk.checked_in`), hands over the trainee's actions (:meth:`CaseDesk.act`)
and settles the case (:meth:`CaseDesk.settle`), which returns its score.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from reader.clock import now_jst
from reception.declaration import DeclarationError, LadderStep, SelfDeclaration
from reception.errors import InputError, NotFound
from reception.flow import Method, Route
from reception.ladder import (
    LadderRefused,
    confirm_by_number,
    file_declaration,
    record_no_card,
    record_rung,
)
from reception.ladder_rules import NoticeSeen
from reception.old_card import confirm_old_card
from reception.oqs_client import NumberQuery, OqsClient, OqsError
from reception.questions import Interaction
from reception.settings import ReceptionSettings
from reception.store import ReceptionStatus, Store
from reception.training.actions import (
    ACTION,
    Accept,
    Action,
    AskPin,
    Certificate,
    Charge,
    Counter,
    Declare,
    NoCard,
    Notice,
    Recheck,
    Refuse,
    Say,
    TakeCard,
    WelfareOffice,
)
from reception.training.journal import Journal
from reception.training.patient import PatientInteraction, PatientScript
from reception.training.phrases import UTTERANCES, Mistake
from reception.training.scenario import (
    Case,
    Document,
    EndState,
    Fault,
    Loaded,
    PatientMethod,
    ScenarioError,
)
from reception.training.scoring import CaseOutcome, CaseScore, RunReport, score
from reception.wareki import parse_date

ACTOR = "研修生"  # who acts in the run's store: every audit row says it is training

RUNGS = {  # the ladder's order (oqs.md §6): a lower rung while a higher is at hand skips
    "notice": 1,
    "portal": 1,
    "certificate": 2,
    "old-card": 2,
    "declaration": 3,
    "no-card": 3,
}
ACTION_LABELS = {  # what an action is called where staff read it (the feedback, the report)
    "say": "声かけ",
    "accept": "受け付ける",
    "refuse": "受け付けない",
    "notice": "資格情報のお知らせ",
    "portal": "マイナポータル",
    "certificate": "資格確認書の照会",
    "old-card": "期限切れの保険証の照会",
    "declaration": "申立書",
    "no-card": "10割負担",
    "counter": "居宅同意取得型",
    "recheck": "もう一度読み取り",
    "welfare-office": "福祉事務所に連絡",
    "charge": "会計",
    "ask-pin": "暗証番号を聞いた",
    "take-card": "カードを預かった",
}
RUNG_OF_STEP = {
    LadderStep.NOTICE.value: "notice",
    LadderStep.PORTAL.value: "portal",
    LadderStep.CERTIFICATE.value: "certificate",
    LadderStep.OLD_CARD.value: "old-card",
    LadderStep.DECLARATION.value: "declaration",
    LadderStep.NO_CARD.value: "no-card",
}
RUNG_OF_DOCUMENT = {
    Document.NOTICE: 1,
    Document.PORTAL: 1,
    Document.KAKUNIN: 2,
    Document.OLD_CARD: 2,
}


class Simulator(Protocol):
    """What a run needs of the simulated clinic (reception.sim.training)."""

    store: Store
    client: OqsClient
    settings: ReceptionSettings

    def persona(self, persona_id: str) -> dict[str, Any]:
        """The persona's entry in the world (world.json): name, birth date, PIN, numbers."""
        ...

    def personas(self) -> list[str]: ...

    def fault(self, fault: Fault, on: bool) -> None:
        """Break (or mend) the service or the reader for a case."""
        ...

    async def check_in(
        self,
        persona: str,
        interaction: Interaction,
        *,
        route: Route = Route.READER,
        resume: str | None = None,
        method: Method = Method.PIN,
    ) -> str:
        """The persona's card placed (on the reader, or the staff-held one for
        ``Route.COUNTER``) and one check-in run: its reception id."""
        ...


@dataclass
class CaseDesk:
    """One case under way: the reception it is about and what the trainee did."""

    run: TrainingRun
    case: Case
    position: int
    arrived: dt.datetime
    waited: float = 0.0
    reception_id: str | None = None
    outcome: CaseOutcome = field(init=False)
    _used: set[int] = field(default_factory=set)  # ladder rungs tried (RUNGS' values)
    _welfare: bool = False

    def __post_init__(self) -> None:
        self.outcome = CaseOutcome(case_id=self.case.id)

    @property
    def persona(self) -> dict[str, Any]:
        return self.run.sim.persona(self.case.patient)

    def patient_script(self, method: PatientMethod | None = None) -> PatientScript:
        situation = self.case.situation
        if method is not None:
            situation = situation.model_copy(update={"method": method, "wrong_pins": 0})
        return PatientScript(situation, str(self.persona["pin"]), staff=ACTOR)

    async def patient_checks_in(
        self, *, pace: float = 0.0, on_step: Callable[[str], None] | None = None
    ) -> str | None:
        """The patient at the reader, headless (when they place a card at all)."""
        if not self.case.situation.places_card:
            return None
        interaction = PatientInteraction(self.patient_script(), pace=pace, on_step=on_step)
        rid = await self.run.sim.check_in(self.case.patient, interaction)
        self.checked_in(rid)
        if self.case.situation.fault is Fault.CONNECTION_LOST:
            self.run.sim.fault(Fault.CONNECTION_LOST, False)  # the line comes back
        return rid

    def checked_in(self, reception_id: str) -> None:
        """The reception the patient's check-in made (the TUI's desk ran it)."""
        self.reception_id = reception_id
        self.run.journal.set_reception(self.case.id, reception_id)

    # -- the trainee's actions --------------------------------------------------------

    async def act(self, action: Action) -> str:
        """Do ``action`` through the core; what happened, in staff words. A refusal of
        the core (a settled reception, a form that does not validate) is said, not
        raised; a mistake is journaled with the action."""
        mistake: Mistake | None = None
        try:
            result, mistake = await self._do(action)
        except LadderRefused as exc:
            result = f"{exc.title}: {exc}"
            if getattr(action, "on", "this") == "previous":
                mistake = Mistake.WRONG_RECEPTION
        except (InputError, DeclarationError, OqsError) as exc:
            result = f"{getattr(exc, 'title', 'エラー')}: {exc}"
        self._note(action, mistake, result)
        self.run.journal.add_action(
            self.case.id,
            action.model_dump(mode="json"),
            result,
            mistake.value if mistake else None,
        )
        return result

    def _note(self, action: Action, mistake: Mistake | None, result: str) -> None:
        o = self.outcome
        match action:
            case Say():
                o.words.setdefault(action.utterance, action.phrase)
            case Accept():
                if action.document not in o.accepted:
                    o.accepted.append(action.document)
            case Refuse():
                if action.document not in o.refused:
                    o.refused.append(action.document)
            case Charge():
                o.ratio = action.ratio
            case WelfareOffice():
                self._welfare = True
        if mistake is not None:
            o.mistakes.append((mistake, f"{ACTION_LABELS.get(action.do, action.do)}: {result}"))

    async def _do(self, action: Action) -> tuple[str, Mistake | None]:
        match action:
            case Say():
                return self._say(action)
            case Accept() | Refuse() | Charge():
                return "記録しました", None
            case AskPin():
                return "暗証番号を尋ねました", Mistake.ASK_PIN
            case TakeCard():
                return "カードを預かりました", Mistake.TAKE_CARD
            case WelfareOffice():
                return "福祉事務所に医療券の発行を依頼しました", None
            case Notice():
                return self._notice(action), self._skipped(action.do)
            case Certificate():
                return await self._certificate(action), self._skipped(action.do)
            case Declare():
                return self._declare(action), self._skipped("declaration")
            case NoCard():
                rid = record_no_card(self.run.sim.store, self._target(action.on), actor=ACTOR)
                self._adopt(rid, action.on)
                return "10割負担で受け付けました", self._skipped("no-card")
            case Counter():
                return await self._counter(action), None
            case Recheck():
                again = await self.patient_checks_in()
                status = self.run.sim.store.reception(again).status if again else None
                return f"もう一度読み取りました: {status.value if status else 'カードなし'}", None
        raise ScenarioError(f"unknown action {action!r}")  # pragma: no cover (typed union)

    def _say(self, action: Say) -> tuple[str, Mistake | None]:
        utterance = UTTERANCES.get(action.utterance)
        if utterance is None or action.utterance not in self.case.situation.says:
            raise InputError(f"この患者さんは「{action.utterance}」と言っていません")
        phrase = utterance.phrase(action.phrase)
        if phrase is None:
            raise InputError(f"「{action.phrase}」という答えはありません")
        if action.utterance in self.outcome.words:
            raise InputError("この発話にはもう答えました")
        return f"「{phrase.text}」", phrase.mistake

    def _target(self, on: str) -> str | None:
        if on == "previous":
            previous = self.run.previous_reception(self.position)
            if previous is None:
                raise InputError("前の患者さんの受付はありません")
            return previous
        return self.reception_id

    def _adopt(self, rid: str, on: str) -> None:
        if on == "this" and rid != self.reception_id:
            self.checked_in(rid)

    def _skipped(self, rung: str) -> Mistake | None:
        """A lower rung while a higher one is in the patient's hands and untried."""
        mine = RUNGS[rung]
        self._used.add(mine)
        situation = self.case.situation
        at_hand = {  # the お知らせ and マイナポータル count only beside the card (never alone)
            RUNG_OF_DOCUMENT[d]
            for d in situation.brings
            if d in RUNG_OF_DOCUMENT and (situation.places_card or RUNG_OF_DOCUMENT[d] > 1)
        }
        higher = {r for r in at_hand if r < mine and r not in self._used}
        return Mistake.RUNG_SKIPPED if higher else None

    def _notice(self, action: Notice) -> str:
        rid = self._target(action.on)
        if rid is None:
            raise InputError(
                "お知らせはマイナ保険証とあわせて確認します: まずカードを読み取ってください"
            )
        step = LadderStep.NOTICE if action.do == "notice" else LadderStep.PORTAL
        until = parse_date(action.expires) if action.expires else None
        birth = parse_date(action.birth_date) if action.birth_date else None
        record_rung(
            self.run.sim.store,
            rid,
            step,
            action.detail,
            seen=NoticeSeen(until=until, birth_date=birth),
            day=self.run.day,
            actor=ACTOR,
        )
        return f"{step.value}を確認しました"

    async def _certificate(self, action: Certificate) -> str:
        numbers = self.persona.get("numbers") or {}
        birth = action.birth_date or str(self.persona["birth_date"])
        query = NumberQuery(
            insurer_number=action.insurer_number or numbers.get("current_insurer_number", ""),
            symbol=action.symbol or numbers.get("current_symbol", ""),
            number=action.number or numbers.get("current_number", ""),
            branch=action.branch or numbers.get("current_branch") or "",
            birth_date=parse_date(birth),
        )
        sim, rid = self.run.sim, self._target(action.on)
        if action.do == "old-card":
            printed = action.expires or (self.persona["expect"].get("old_card") or {}).get(
                "printed_until"
            )
            answer = await confirm_old_card(
                sim.client,
                sim.store,
                query,
                reception_id=rid,
                day=self.run.day,
                printed_until=parse_date(printed) if printed else None,
                actor=ACTOR,
            )
        else:
            answer = await confirm_by_number(
                sim.client, sim.store, query, reception_id=rid, day=self.run.day, actor=ACTOR
            )
        self._adopt(answer.reception_id, action.on)
        return ("受け付けました: " if answer.accepted else "受け付けられません: ") + answer.verdict

    def _declare(self, action: Declare) -> str:
        sim, rid = self.run.sim, self._target(action.on)
        values = self.declaration_values() | action.fields
        declaration = SelfDeclaration.parse(values)
        filed = file_declaration(
            sim.store, declaration, sim.settings.declarations_dir, reception_id=rid, actor=ACTOR
        )
        if rid is None:
            return f"申立書 {filed.declaration_id} を受け付けました（受付なし）"
        self.outcome.billing = declaration.billing_hint().kind
        return f"申立書 {filed.declaration_id} を受け付けました"

    def declaration_values(self) -> dict[str, str]:
        """What the patient writes on the 申立書: their own details (the world's)."""
        p = self.persona
        reason = "no-qualification"
        if self.reception_id is not None:
            stored = self.run.sim.store.reception(self.reception_id).fallback_reason
            reason = stored.value if stored is not None else reason
        return {
            "card_shown": "true" if Document.CARD in self.case.situation.brings else "false",
            "declared_on": self.run.day.isoformat(),
            "reason": reason,
            "name": str(p["name"]),
            "name_kana": str(p["name_kana"]),
            "birth_date": str(p["birth_date"]),
            "sex": "未設定",
            "address": "東京都千代田区千代田1-1（研修）",
            "phone": "03-0000-0000",
            "insurance_type": "わからない",
            "declared_ratio": str(self.case.model.ratio * 10),
            "note": "研修（実際の受付ではありません）",
        }

    async def _counter(self, action: Counter) -> str:
        if self.reception_id is None:
            raise InputError("居宅同意取得型は、読み取れなかった受付について行います")
        method = Method.PIN if action.method is PatientMethod.PIN else Method.VISUAL
        script = self.patient_script(action.method)
        rid = await self.run.sim.check_in(
            self.case.patient,
            PatientInteraction(script),
            route=Route.COUNTER,
            resume=self.reception_id,
            method=method,
        )
        status = self.run.sim.store.reception(rid).status
        return f"居宅同意取得型で読み取りました: {status.value}"

    # -- settling ---------------------------------------------------------------------

    def end_state(self) -> EndState | None:
        if self._welfare:
            return EndState.WELFARE_OFFICE
        if self.reception_id is None:
            return None
        store = self.run.sim.store
        reception = store.reception(self.reception_id)
        steps = [step for step, _detail in store.steps_of(self.reception_id)]
        match reception.status:
            case ReceptionStatus.CONFIRMED:
                return EndState.COUNTER if reception.route is Route.COUNTER else EndState.CARD
            case ReceptionStatus.CONFIRMED_NOTICE:
                return EndState.PORTAL if LadderStep.PORTAL.value in steps else EndState.NOTICE
            case ReceptionStatus.CONFIRMED_CERTIFICATE:
                if LadderStep.OLD_CARD.value in steps:
                    return EndState.OLD_CARD
                return EndState.CERTIFICATE
            case ReceptionStatus.DECLARED:
                return EndState.DECLARED
            case ReceptionStatus.SELF_PAY:
                return EndState.SELF_PAY
        return None

    def _store_mistakes(self) -> None:
        """What the staff console did on the store (the TUI's ladder goes through the core
        itself, not :meth:`act`): a rung on another patient's reception, a rung skipped."""
        o, store = self.outcome, self.run.sim.store
        journaled = {m for m, _d in o.mistakes}
        steps = store.steps_since(self.arrived.isoformat())
        others = [s for r, s in steps if r != self.reception_id and r is not None]
        if others and Mistake.WRONG_RECEPTION not in journaled:
            o.mistakes.append((Mistake.WRONG_RECEPTION, f"別の受付に記録: {others[0]}"))
        if self._used or Mistake.RUNG_SKIPPED in journaled:
            return  # the actions said which rungs were tried (headless)
        for reception, step in steps:
            rung = RUNG_OF_STEP.get(step)
            if reception != self.reception_id or rung is None:
                continue
            if self._skipped(rung) is not None:
                o.mistakes.append((Mistake.RUNG_SKIPPED, f"{step}（上の手段が手元にあった）"))
                return

    def settle(self, seconds: float) -> CaseScore:
        self._store_mistakes()
        o = self.outcome
        o.reception_id = self.reception_id
        if self.reception_id is not None:
            o.status = self.run.sim.store.reception(self.reception_id).status.value
        o.end = self.end_state()
        o.seconds = seconds
        o.waited = self.waited
        scenario = self.run.loaded.scenario
        wait_target = scenario.clinic.wait_target if scenario.clinic.arrival_every else None
        result = score(self.case, o, scenario.penalties_of(self.case), wait_target)
        self.run.journal.settle(self.case.id, result)
        if self.case.situation.fault is not Fault.NONE:
            self.run.sim.fault(self.case.situation.fault, False)
        return result


class TrainingRun:
    """A scenario's cases for one trainee, journaled (resumable)."""

    def __init__(self, loaded: Loaded, journal: Journal, sim: Simulator, trainee: str) -> None:
        self.loaded = loaded
        self.journal = journal
        self.sim = sim
        digest = hashlib.sha256(loaded.text.encode()).hexdigest()
        meta = journal.meta()
        if "scenario_sha256" in meta and meta["scenario_sha256"] != digest:
            raise ScenarioError(
                f"{journal.path.parent}: この研修は別の内容のシナリオで始めたものです"
                "（--restart で最初からやり直せます）"
            )
        if not meta.get("started"):
            journal.set_meta(
                scenario_sha256=digest,
                scenario_source=loaded.source,
                scenario_id=loaded.scenario.id,
                trainee=trainee,
                started=now_jst().isoformat(timespec="seconds"),
            )
        self.trainee = journal.meta()["trainee"]
        self.day: dt.date = sim.settings.rules_day()
        known = set(sim.personas())
        for i, case in enumerate(loaded.scenario.cases):
            if case.persona not in known or case.patient not in known:
                line = loaded.line_of(("case", i, "persona"))
                raise ScenarioError(
                    f"{loaded.source}: {line} 行目: case {case.id}: "
                    f"「{case.persona}」というペルソナはありません"
                )
            self._check_ratio(i, case)

    def _check_ratio(self, index: int, case: Case) -> None:
        """A case confirmed by the card charges what the service answers for the persona
        (world.json's expectation on the world's day): a model answer cannot teach another
        負担割合 than the simulator gives."""
        given = (self.sim.persona(case.persona).get("expect") or {}).get("ratio")
        if case.model.end not in (EndState.CARD, EndState.COUNTER) or not given:
            return
        if int(given) // 10 != case.model.ratio:
            line = self.loaded.line_of(("case", index, "model", "ratio"))
            raise ScenarioError(
                f"{self.loaded.source}: {line} 行目: case {case.id}: 負担割合が"
                f" {case.model.ratio}割 ですが、{case.persona} の資格確認の結果は"
                f" {int(given) // 10}割 です"
            )

    @property
    def scenario(self) -> Any:
        return self.loaded.scenario

    def scores(self) -> dict[str, CaseScore]:
        return {c.case_id: c.score for c in self.journal.cases() if c.score is not None}

    def next_case(self) -> tuple[int, Case] | None:
        done = self.scores()
        for i, case in enumerate(self.loaded.scenario.cases):
            if case.id not in done:
                return i, case
        return None

    def previous_reception(self, position: int) -> str | None:
        earlier = [c for c in self.journal.cases() if c.position < position and c.reception_id]
        return earlier[-1].reception_id if earlier else None

    def begin(self, *, waited: float = 0.0) -> CaseDesk | None:
        """The next case (None: the run is over): resumed where it stood when its
        reception was settled by the check-in or a rung; else begun again (its fault on)."""
        found = self.next_case()
        if found is None:
            return None
        position, case = found
        journaled = {c.case_id: c for c in self.journal.cases()}.get(case.id)
        desk = CaseDesk(self, case, position, now_jst())
        if journaled is not None and self._settled(journaled.reception_id):
            desk.arrived, desk.waited = journaled.arrived_at, journaled.waited
            desk.reception_id = journaled.reception_id
            for done in self.journal.actions(case.id):  # what the trainee had done
                action = ACTION.validate_python(done.action)
                mistake = Mistake(done.mistake) if done.mistake else None
                desk._note(action, mistake, done.result)
                if action.do in RUNGS:
                    desk._used.add(RUNGS[action.do])
            if case.situation.fault not in (Fault.NONE, Fault.CONNECTION_LOST):
                self.sim.fault(case.situation.fault, True)  # the patient checked in
            return desk
        self.journal.open_case(case.id, position, desk.arrived, waited)
        desk.waited = waited
        if case.situation.fault is not Fault.NONE:
            self.sim.fault(case.situation.fault, True)
        return desk

    def _settled(self, reception_id: str | None) -> bool:
        """The journaled reception was settled by its check-in or a rung — not one the
        store does not have (a run's store lost or replaced: the case begins again)."""
        if reception_id is None:
            return False
        try:
            status = self.sim.store.reception(reception_id).status
        except NotFound:
            return False
        return status not in (ReceptionStatus.IN_PROGRESS, ReceptionStatus.INTERRUPTED)

    def report(self) -> RunReport:
        meta = self.journal.meta()
        scores = self.scores()
        return RunReport(
            scenario_id=self.loaded.scenario.id,
            scenario_title=self.loaded.scenario.title,
            trainee=self.trainee,
            day=self.day,
            started=dt.datetime.fromisoformat(meta["started"]),
            finished=dt.datetime.fromisoformat(meta["finished"]) if meta.get("finished") else None,
            cases=[scores[c.id] for c in self.loaded.scenario.cases if c.id in scores],
            case_count=len(self.loaded.scenario.cases),
        )

    def finish(self) -> RunReport:
        if not self.journal.meta().get("finished"):
            self.journal.set_meta(finished=now_jst().isoformat(timespec="seconds"))
        return self.report()
