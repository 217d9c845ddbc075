"""A training scenario: a TOML file a trainer writes (issue 25 §1).

::

    id = "kihon"                      # ASCII: what `reception train list` prints first
    title = "基本"
    day = "2026-12-07"                # the world's day (its rules); default: today
    [clinic]
    prescription = "outside"          # off / outside / inside
    pilot_area = false                # 公費 by card (the PMH pilot)
    reader_model = "current"          # current / next-generation / no-visual
    arrival_every = 0                 # 朝の混雑: a patient every N seconds (0: one by one)

    [[case]]
    id = "pin"
    title = "暗証番号で受付"
    persona = "adult-kyokai"
    [case.situation]                  # what the patient brings and does
    brings = ["card"]
    method = "pin"
    [case.model]                      # the model handling
    end = "card"
    ratio = 3                         # 負担割合 in 割 (0 for 医療扶助, 10 for 10割)
    accept = ["card"]
    explain = "…"
    source = "https://…"

Errors name the line: the TOML's own, or the line of the key a value is wrong at
(:class:`ScenarioError`). The built-in sets live beside this module, in ``sets/``.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reception.errors import InputError
from reception.reader_models import PrescriptionQuestion, ReaderModel
from reception.training.phrases import UTTERANCES, Grade, Mistake

SETS = Path(__file__).parent / "sets"
MAX_BYTES = 1_000_000
ASCII_ID = r"^[a-z0-9][a-z0-9-]{0,39}$"


class ScenarioError(InputError):
    title = "シナリオの誤り"


class Document(enum.StrEnum):
    """What a patient may bring to the counter."""

    CARD = "card"
    PHONE = "phone"
    NOTICE = "notice"
    PORTAL = "portal"
    KAKUNIN = "kakunin"
    OLD_CARD = "old-card"
    JUKYUSHA = "jukyusha"
    MEDICAL_TICKET = "medical-ticket"

    @property
    def label(self) -> str:
        return DOCUMENT_LABELS[self]


DOCUMENT_LABELS = {
    Document.CARD: "マイナ保険証（マイナンバーカード）",
    Document.PHONE: "スマートフォンのマイナ保険証",
    Document.NOTICE: "資格情報のお知らせ",
    Document.PORTAL: "マイナポータルの資格情報画面",
    Document.KAKUNIN: "資格確認書",
    Document.OLD_CARD: "有効期限切れの保険証",
    Document.JUKYUSHA: "紙の受給者証",
    Document.MEDICAL_TICKET: "医療券",
}


class PatientMethod(enum.StrEnum):
    PIN = "pin"
    FACE = "face"
    VISUAL = "visual"


class FaceOutcome(enum.StrEnum):
    SAME = "same"
    OTHER = "other"
    POOR = "poor"


class Fault(enum.StrEnum):
    """What goes wrong at this case."""

    NONE = "none"
    OUTAGE = "outage"  # the service is down for this case
    READER = "reader"  # the face-recognition reader breaks (unplugged)
    CONNECTION_LOST = "connection-lost"  # the service stops answering mid-check-in
    SLOW = "slow"  # the service answers late


class EndState(enum.StrEnum):
    """Where the case must end (the reception's status and how it got there)."""

    CARD = "card"  # confirmed by the card (or phone) at the reader
    COUNTER = "counter"  # confirmed by the 居宅同意取得型 route at the counter
    NOTICE = "notice"  # card + 資格情報のお知らせ seen
    PORTAL = "portal"  # card + マイナポータル seen
    CERTIFICATE = "certificate"  # 資格確認書 queried by number
    OLD_CARD = "old-card"  # an expired 保険証 queried by number (until 2026-03-31)
    DECLARED = "declared"  # 被保険者資格申立書
    SELF_PAY = "self-pay"  # neither card nor 資格確認書: 10割
    WELFARE_OFFICE = "welfare-office"  # 医療扶助 without a 医療券 here: the 福祉事務所

    @property
    def label(self) -> str:
        return END_LABELS[self]


END_LABELS = {
    EndState.CARD: "マイナ保険証で確認",
    EndState.COUNTER: "居宅同意取得型で確認",
    EndState.NOTICE: "マイナ保険証＋資格情報のお知らせで確認",
    EndState.PORTAL: "マイナ保険証＋マイナポータルで確認",
    EndState.CERTIFICATE: "資格確認書の番号で確認",
    EndState.OLD_CARD: "期限切れの保険証の番号で確認",
    EndState.DECLARED: "被保険者資格申立書で受付",
    EndState.SELF_PAY: "10割負担（持参なし）",
    EndState.WELFARE_OFFICE: "福祉事務所に医療券を依頼",
}


END_DOCUMENT = {  # the document an end state is reached with
    EndState.NOTICE: Document.NOTICE,
    EndState.PORTAL: Document.PORTAL,
    EndState.CERTIFICATE: Document.KAKUNIN,
    EndState.OLD_CARD: Document.OLD_CARD,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Clinic(_Strict):
    prescription: PrescriptionQuestion = PrescriptionQuestion.OFF
    pilot_area: bool = False
    reader_model: ReaderModel = ReaderModel.CURRENT
    arrival_every: float = Field(default=0, ge=0, le=3600)
    wait_target: float = Field(default=300, gt=0, le=7200)


class Situation(_Strict):
    brings: tuple[Document, ...] = (Document.CARD,)
    method: PatientMethod = PatientMethod.PIN
    wrong_pins: int = Field(default=0, ge=0, le=3)
    face: FaceOutcome = FaceOutcome.SAME
    then: PatientMethod | None = None  # after face fails: the patient's next way
    consents: Literal["all", "none"] = "all"
    prescription: Literal["electronic", "paper"] = "electronic"
    registers: bool = False  # answers yes to 保険証利用登録 at the reader
    subsidy: bool = True  # uses the 受給者証 by card (pilot areas)
    says: tuple[str, ...] = ()  # utterance ids (reception/training/phrases.py)
    fault: Fault = Fault.NONE

    @field_validator("says")
    @classmethod
    def _known(cls, says: tuple[str, ...]) -> tuple[str, ...]:
        for uid in says:
            if uid not in UTTERANCES:
                known = ", ".join(UTTERANCES)
                raise ValueError(f"「{uid}」という発話はありません（{known}）")
        return says

    @property
    def holds_phone(self) -> bool:
        """The マイナ保険証 on the patient's smartphone, not the card, goes to the reader."""
        return Document.PHONE in self.brings and Document.CARD not in self.brings

    @property
    def places_card(self) -> bool:
        return Document.CARD in self.brings or Document.PHONE in self.brings


class Points(_Strict):
    end: int = Field(default=40, ge=0, le=1000)
    ratio: int = Field(default=20, ge=0, le=1000)
    documents: int = Field(default=15, ge=0, le=1000)
    words: int = Field(default=15, ge=0, le=1000)
    time: int = Field(default=10, ge=0, le=1000)

    @property
    def total(self) -> int:
        return self.end + self.ratio + self.documents + self.words + self.time


class Penalties(_Strict):
    ask_pin: int = Field(default=30, ge=0, le=1000)
    take_card: int = Field(default=30, ge=0, le=1000)
    wrong_reception: int = Field(default=30, ge=0, le=1000)
    rung_skipped: int = Field(default=15, ge=0, le=1000)
    blame: int = Field(default=10, ge=0, le=1000)

    def of(self, mistake: Mistake) -> int:
        value: int = getattr(self, mistake.value.replace("-", "_"))
        return value


class ModelHandling(_Strict):
    end: EndState
    ratio: Literal[0, 1, 2, 3, 10]  # 割
    accept: tuple[Document, ...] = ()
    refuse: tuple[Document, ...] = ()
    words: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # utterance → good ids
    billing: Literal["current", "previous", "unknown"] | None = None  # a 申立書's billing hint
    explain: str = Field(min_length=1, max_length=2000)
    source: str = Field(min_length=1, max_length=500)
    seconds: float = Field(default=120, gt=0, le=3600)  # full time points within this

    @model_validator(mode="after")
    def _documents(self) -> ModelHandling:
        if set(self.accept) & set(self.refuse):
            raise ValueError("同じ書類が accept と refuse の両方にあります")
        return self


class Case(_Strict):
    id: Annotated[str, Field(pattern=ASCII_ID)]
    title: str = Field(min_length=1, max_length=100)
    persona: str = Field(min_length=1, max_length=60)
    generated: bool = False  # a new person in the persona's situation (their own name …)
    situation: Situation = Situation()
    model: ModelHandling
    points: Points = Points()
    penalties: Penalties | None = None  # this case's, else the scenario's

    @model_validator(mode="after")
    def _documents(self) -> Case:
        """The model handling uses only what the patient brings (a case cannot teach
        accepting a document the patient does not have), and 10割 is the 持参なし end's."""
        brings, model = set(self.situation.brings), self.model
        missing = [d for d in model.accept if d not in brings]
        if missing:
            names = ", ".join(d.value for d in missing)
            raise ValueError(f"model.accept: 患者さんが持っていない書類です（{names}）")
        needed = END_DOCUMENT.get(model.end)
        if needed is not None and needed not in brings:
            raise ValueError(
                f"model.end: {model.end.value} には {needed.value} が必要です"
                "（situation.brings にありません）"
            )
        if model.billing is not None and model.end is not EndState.DECLARED:
            raise ValueError("model.billing: 請求の種類は申立書（end = declared）のときだけです")
        if (model.ratio == 10) != (model.end is EndState.SELF_PAY):
            raise ValueError("model.ratio: 10割は self-pay（持参なし）のときだけです")
        return self

    @model_validator(mode="after")
    def _words(self) -> Case:
        for uid, ids in self.model.words.items():
            utterance = UTTERANCES.get(uid)
            if utterance is None or uid not in self.situation.says:
                raise ValueError(f"model.words: 「{uid}」は situation.says にありません")
            for pid in ids:
                if utterance.phrase(pid) is None:
                    raise ValueError(f"model.words: 「{uid}」に「{pid}」という答えはありません")
        return self

    @property
    def patient(self) -> str:
        """The patient's id in the run's world: the persona, or the person generated
        for this case in the persona's situation (``mock-oqs seed --generate``)."""
        return f"gen-{self.id}" if self.generated else self.persona

    def good_words(self, utterance: str) -> tuple[str, ...]:
        """The phrase ids that earn full points for this utterance in this case."""
        if utterance in self.model.words:
            return self.model.words[utterance]
        return tuple(p.id for p in UTTERANCES[utterance].phrases if p.grade is Grade.GOOD)


class Scenario(_Strict):
    id: Annotated[str, Field(pattern=ASCII_ID)]
    title: str = Field(min_length=1, max_length=100)
    description: str = ""
    day: dt.date | None = None
    clinic: Clinic = Clinic()
    penalties: Penalties = Penalties()
    case: tuple[Case, ...] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _unique(self) -> Scenario:
        seen: set[str] = set()
        for case in self.case:
            if case.id in seen:
                raise ValueError(f"case id 「{case.id}」が2回あります")
            seen.add(case.id)
        return self

    @property
    def cases(self) -> tuple[Case, ...]:
        return self.case

    @property
    def generated(self) -> list[tuple[str, str]]:
        """The persons to generate for the run's world: (id, persona)."""
        return [(c.patient, c.persona) for c in self.case if c.generated]

    def penalties_of(self, case: Case) -> Penalties:
        return case.penalties or self.penalties


@dataclass(frozen=True)
class Loaded:
    """A scenario with where it came from (its file, for the errors' lines)."""

    scenario: Scenario
    source: str  # a built-in set's id or the file's path
    text: str

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        return line_of(self.text, loc)


def builtin_sets() -> list[tuple[str, str, Path]]:
    """The built-in sets: (id, title, file), in their order (their files' names)."""
    found = []
    for path in sorted(SETS.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        found.append((str(data["id"]), str(data["title"]), path))
    return found


def resolve(set_or_file: str) -> Path:
    """A built-in set's id, or a scenario file's path."""
    for set_id, _title, path in builtin_sets():
        if set_id == set_or_file:
            return path
    path = Path(set_or_file)
    if path.suffix == ".toml" or path.exists() or "/" in set_or_file:
        return path
    known = ", ".join(s for s, _t, _p in builtin_sets())
    raise ScenarioError(
        f"「{set_or_file}」という研修セットもファイルもありません（セット: {known}）"
    )


def load(set_or_file: str) -> Loaded:
    """Read and validate a scenario (a built-in set's id or a file); ScenarioError names
    the file, the line and what is wrong."""
    path = resolve(set_or_file)
    try:
        if not path.is_file():
            raise ScenarioError(f"{path}: ファイルがありません")
        if path.stat().st_size > MAX_BYTES:
            raise ScenarioError(f"{path}: 大きすぎます（{MAX_BYTES:,} バイトまで）")
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: 読めません: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: UTF-8 ではありません（{exc.start} バイト目）") from None
    return parse(text, str(path))


def parse(text: str, source: str = "<scenario>") -> Loaded:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: TOML として読めません: {exc}") from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_describe(exc, text, source)) from None
    return Loaded(scenario, source, text)


_MESSAGE_KEY = re.compile(r"^([a-z_]+(?:\.[a-z_]+)*): ")


def _describe(exc: ValidationError, text: str, source: str) -> str:
    lines = []
    errors = exc.errors()
    if len(errors) > 1:  # a case that failed also makes the list look empty: not news
        errors = [e for e in errors if not (e["type"] == "too_short" and e["loc"] == ("case",))]
    for err in errors[:10]:
        loc = [p for p in err["loc"] if isinstance(p, str | int)]
        message = str(err["msg"]).removeprefix("Value error, ")
        key = _MESSAGE_KEY.match(message)
        if key:  # a validator's message names the key below its model: that key's line
            loc += key.group(1).split(".")
            message = message[key.end() :]
        where = ".".join(str(p) for p in loc) or "(全体)"
        line = line_of(text, loc)
        at = f"{line} 行目" if line is not None else "場所不明"
        lines.append(f"{source}: {at}: {where}: {message}")
    if len(errors) > 10:
        lines.append(f"…ほか {len(errors) - 10} 件")
    return "\n".join(lines)


_TABLE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\s]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=")


def line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of the key at ``loc`` (e.g. ``("case", 2, "model", "end")``) in
    ``text``: the closest line found — the key, else its table, else the case's header.

    Written by hand: tomllib keeps no positions, and no maintained TOML library for
    Python reports a key's line (tomlkit keeps the text, not its lines)."""
    path: list[str] = []
    index: dict[str, int] = {}
    best: tuple[int, int] | None = None  # (matched parts, line)
    want = [str(p) for p in loc]
    for number, line in enumerate(text.splitlines(), start=1):
        table = _TABLE.match(line)
        if table:
            name = table.group(1).replace(" ", "")
            parts = name.split(".")
            if line.lstrip().startswith("[["):
                index[name] = index.get(name, -1) + 1
                path = [*_indexed(parts[:-1], index), parts[-1], str(index[name])]
            else:
                path = _indexed(parts, index)
            best = _closer(best, want, path, number)
            continue
        key = _KEY.match(line)
        if key:
            best = _closer(best, want, [*path, key.group(1).strip('"')], number)
    return best[1] if best else None


def _indexed(parts: list[str], index: dict[str, int]) -> list[str]:
    out: list[str] = []
    for i, part in enumerate(parts):
        out.append(part)
        name = ".".join(parts[: i + 1])
        if name in index:
            out.append(str(index[name]))
    return out


def _closer(
    best: tuple[int, int] | None, want: list[str], path: list[str], number: int
) -> tuple[int, int] | None:
    if len(path) > len(want) or want[: len(path)] != path:
        return best
    if best is None or len(path) > best[0]:
        return (len(path), number)
    return best
