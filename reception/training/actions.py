"""What a trainee does at the counter (issue 25 §2), one typed action each.

The TUI's 研修 mode makes these from the staff console; a headless run reads them from a
trainee file (``reception train run SET --trainee FILE --json``)::

    trainee = "山田 花子"
    [[case]]
    id = "forgot-pin"
    seconds = 50                                  # time taken (headless: as written)
    actions = [
      { do = "say", utterance = "forgot-pin", phrase = "face-or-visual" },
      { do = "accept", document = "card" },
      { do = "charge", ratio = 3 },
    ]

JSON works the same (``{"trainee": …, "case": [{"id": …, "actions": [...]}]}``). The
ladder's actions go through the terminal's own core (reception.ladder, the 申立書, the
number query); ``on = "previous"`` acts on the previous patient's reception instead —
what a mistake at a busy counter looks like, refused by the core and scored as one.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from reception.training.scenario import Document, PatientMethod, ScenarioError, line_of

MAX_BYTES = 1_000_000


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Say(_Action):
    do: Literal["say"] = "say"
    utterance: str
    phrase: str


class Accept(_Action):
    do: Literal["accept"] = "accept"
    document: Document


class Refuse(_Action):
    do: Literal["refuse"] = "refuse"
    document: Document


class Numbers(_Action):
    """A 資格確認書's (or an old 保険証's) numbers as staff type them; omitted ones are
    read off the document the patient handed over (the world's)."""

    insurer_number: str | None = None
    symbol: str | None = None
    number: str | None = None
    branch: str | None = None
    birth_date: str | None = None  # as printed: 和暦 or 西暦
    expires: str | None = None  # an old 保険証's printed 有効期限


class Notice(_Action):
    """The card with the 資格情報のお知らせ (or マイナポータル) seen: what staff wrote."""

    do: Literal["notice", "portal"] = "notice"
    detail: str = Field(max_length=400)  # must say the 負担割合 seen (「… 3割」)
    expires: str | None = None  # a 70+ patient's お知らせ: its printed 有効期限
    birth_date: str | None = None  # asked where the reception does not know it
    on: Literal["this", "previous"] = "this"


class Certificate(Numbers):
    do: Literal["certificate", "old-card"] = "certificate"
    on: Literal["this", "previous"] = "this"


class Declare(_Action):
    """The 被保険者資格申立書: fields as in reception.declaration.SelfDeclaration; those
    omitted are what the patient writes (their own, from the world)."""

    do: Literal["declaration"] = "declaration"
    fields: dict[str, str] = Field(default_factory=dict)
    on: Literal["this", "previous"] = "this"


class NoCard(_Action):
    do: Literal["no-card"] = "no-card"
    on: Literal["this", "previous"] = "this"


class Counter(_Action):
    """The 居宅同意取得型 route: the card on the staff-held reader, the patient's PIN
    (typed by the patient) or staff's 目視."""

    do: Literal["counter"] = "counter"
    method: PatientMethod = PatientMethod.VISUAL


class Recheck(_Action):
    """Ask the service again for a pending reception (when it is back)."""

    do: Literal["recheck"] = "recheck"


class WelfareOffice(_Action):
    """医療扶助 without a 医療券 for this clinic: staff call the 福祉事務所."""

    do: Literal["welfare-office"] = "welfare-office"


class Charge(_Action):
    """The 負担割合 charged at the 会計 (割: 0, 1, 2, 3 or 10)."""

    do: Literal["charge"] = "charge"
    ratio: int = Field(ge=0, le=10)


class AskPin(_Action):
    """Asking the patient for their PIN (always a mistake)."""

    do: Literal["ask-pin"] = "ask-pin"


class TakeCard(_Action):
    """Taking the card out of the patient's hands (always a mistake)."""

    do: Literal["take-card"] = "take-card"


Action = Annotated[
    Say
    | Accept
    | Refuse
    | Notice
    | Certificate
    | Declare
    | NoCard
    | Counter
    | Recheck
    | WelfareOffice
    | Charge
    | AskPin
    | TakeCard,
    Field(discriminator="do"),
]
ACTION: TypeAdapter[Action] = TypeAdapter(Action)


class TraineeCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    seconds: float = Field(default=0, ge=0, le=86400)
    actions: list[Action] = Field(default_factory=list, max_length=200)


class TraineeFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trainee: str = Field(min_length=1, max_length=60)
    case: list[TraineeCase] = Field(default_factory=list, max_length=200)

    def of(self, case_id: str) -> TraineeCase | None:
        return next((c for c in self.case if c.id == case_id), None)


def load_trainee(path: Path) -> TraineeFile:
    """A trainee file (TOML, or JSON by its ``.json`` suffix); ScenarioError names the
    line of what is wrong."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ScenarioError(f"{path}: 大きすぎます（{MAX_BYTES:,} バイトまで）")
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: 読めません: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: UTF-8 ではありません") from None
    data: Any
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"{path}: 読めません: {exc}") from None
    try:
        return TraineeFile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:10]:
            loc = [p for p in err["loc"] if isinstance(p, str | int)]
            line = line_of(text, loc) if path.suffix != ".json" else None
            at = f"{line} 行目: " if line is not None else ""
            where = ".".join(str(p) for p in loc)
            problems.append(f"{path}: {at}{where}: {err['msg']}")
        raise ScenarioError("\n".join(problems)) from None
