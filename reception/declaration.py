"""The 被保険者資格申立書 (self-declaration) and the rest of the fallback ladder (oqs.md §6).

Rungs, in order: the card with the 資格情報のお知らせ or the マイナポータル screen/PDF
(what staff saw is recorded), the 資格確認書 (queried by its numbers), and at last the
申立書: the patient writes what they can; the clinic keeps the form and bills with the
current number once known, else the previous qualification, else a 不詳請求 with every
digit of 保険者番号 and 記号番号 filled with 7 (MHLW 保発0710第1号, 2023-07-10).

Validation messages are Japanese: staff read them at the counter.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import AfterValidator, BeforeValidator
from pydantic_core import ErrorDetails

from reader.clock import today_jst as today_jst
from reader.safe_text import describe, unsafe_characters
from reception.errors import InputError
from reception.fonts import unprintable_characters
from reception.reasons import FallbackReason


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a declaration: the field at fault (a :class:`SelfDeclaration`
    field name; None when no one field is) and what is wrong, in Japanese."""

    field: str | None
    message: str

    def __str__(self) -> str:
        """「電話番号: 電話番号の形が正しくありません…」: the field named first."""
        return f"{_label(self.field)}: {self.message}" if self.field else self.message


class DeclarationError(InputError, ValueError):
    """A declaration that cannot be accepted. ``found`` lists every problem with its
    field, so that a form shows each beside its field; ``problems`` the same as lines
    that name the field (the CLI prints them)."""

    title = "申立書の入力に誤りがあります"

    def __init__(self, found: list[Problem]) -> None:
        self.found = found
        self.problems = [str(p) for p in found]
        super().__init__("; ".join(self.problems))

    def by_field(self) -> dict[str | None, list[str]]:
        """The messages of each field (None: of the declaration as a whole), in order."""
        fields: dict[str | None, list[str]] = {}
        for problem in self.found:
            fields.setdefault(problem.field, []).append(problem.message)
        return fields


class _FieldProblem(ValueError):
    """A check across fields that blames one of them (pydantic gives a model validator's
    error no field: this carries it to :meth:`SelfDeclaration.parse`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class LadderStep(enum.StrEnum):
    """The rungs of oqs.md §6 that staff record."""

    NOTICE = "資格情報のお知らせ"
    PORTAL = "マイナポータル"
    CERTIFICATE = "資格確認書"
    DECLARATION = "被保険者資格申立書"
    NO_CARD = "持参なし（10割負担）"
    COUNTER = "居宅同意取得型"
    OLD_CARD = "有効期限切れの保険証"  # the interim rule until 2026-03-31 (reception.old_card)


NO_CARD_MESSAGE = (
    "マイナ保険証も資格確認書もお持ちでない方は、申立書ではなく今回は10割（全額自己負担）です。"
    "後日、加入している保険者に療養費を請求できます（領収書を保管してください）"
)


CARD_NOT_SHOWN_MESSAGE = (
    "マイナ保険証の提示を確認した記録がありません: 申立書はマイナ保険証とあわせて受け付けます"
    "（お持ちでない方は申立書ではなく10割負担です）"
)


class InsuranceType(enum.StrEnum):
    KYOKAI = "協会けんぽ"
    KUMIAI = "健康保険組合"
    KYOSAI = "共済組合"
    KOKUHO = "国民健康保険"
    KOKI = "後期高齢者医療"
    UNKNOWN = "わからない"


class Sex(enum.StrEnum):
    MALE = "男"
    FEMALE = "女"
    UNSET = "未設定"


def insurer_check_digit(digits: str) -> int:
    """oqs.md §4: from the rightmost digit weights 2, 1, 2, …; digit sums; (10 − s mod 10) mod 10.

    The terminal checks numbers itself, as a real one must (it shares no code with the
    service it queries).
    """
    weighted = (int(d) * (2 - i % 2) for i, d in enumerate(reversed(digits)))
    return -sum(divmod(w, 10)[0] + divmod(w, 10)[1] for w in weighted) % 10


def check_insurer_number(text: str) -> str:
    """6 (国保) or 8 digits with a correct check digit; full-width digits are accepted."""
    digits = unicodedata.normalize("NFKC", text).strip()
    if not re.fullmatch(r"[0-9]+", digits):
        raise ValueError(f"保険者番号は数字だけで書いてください（{text!r}）")
    if len(digits) not in (6, 8):
        raise ValueError(f"保険者番号は8桁（国保は6桁）です（{len(digits)}桁でした）")
    if insurer_check_digit(digits[:-1]) != int(digits[-1]):
        raise ValueError(f"保険者番号 {digits} の検証番号（最後の桁）が合いません")
    return digits


KATAKANA = re.compile(r"[ァ-ヴー・\u3000 ]+")
PHONE = re.compile(r"0\d{1,4}-?\d{1,4}-?\d{3,4}")


def _as_typed(value: Any) -> Any:
    """What the person typed, without the blanks around it: every other character is
    kept — a full-width space between family and given name (「新井　健」) included, which
    NFKC would have made an ASCII one (issue 22 §4). ``str.strip`` takes U+3000 too."""
    return value.strip() if isinstance(value, str) else value


def _nfkc(value: Any) -> Any:
    """Codes (numbers, 記号, telephone) compare and query as ASCII: full-width digits and
    hyphens from a form become ASCII ones (「０３－１２３４」 is 03-1234)."""
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


_HALF_WIDTH_KANA = re.compile(r"[\uff61-\uff9f]+")


def _kana(value: Any) -> Any:
    """フリガナ as typed, but half-width katakana (ｶｸｳ, from some IMEs and card software)
    made full-width so that it reads as katakana; spaces of either width are kept."""
    if not isinstance(value, str):
        return value
    value = value.strip()
    return _HALF_WIDTH_KANA.sub(lambda m: unicodedata.normalize("NFKC", m.group()), value)


STORED = {"stored": True}
"""Validation context for a declaration read back from the store: it was validated when
it was made; the rules of the day (date bounds, fonts) must not lose it later."""


def _stored(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("stored"))


def _printable(value: str, info: ValidationInfo) -> str:
    """No controls, bidi overrides or noncharacters (they would act on a terminal or
    reorder what staff read), and nothing the form's fonts cannot print (it would vanish
    from the PDF without a word)."""
    if _stored(info):
        return value
    unsafe = unsafe_characters(value)
    if unsafe:
        raise ValueError(f"使えない制御文字が含まれています（{'、'.join(unsafe)}）")
    missing = unprintable_characters(value)
    if missing:
        shown = "、".join(f"「{c}」({describe(c)})" for c in missing[:5])
        raise ValueError(f"印刷できない文字が含まれています: {shown}。別の字で書いてください")
    return value


Text = Annotated[str, BeforeValidator(_as_typed), AfterValidator(_printable)]
Kana = Annotated[str, BeforeValidator(_kana), AfterValidator(_printable)]
Code = Annotated[str, BeforeValidator(_nfkc), AfterValidator(_printable)]

# 申立日: the day of the visit, give or take the days a form may wait to be entered
DECLARED_DAYS_BACK = 31


def reaching_age(birth: dt.date, years: int) -> dt.date:
    """The day one reaches an age in law: the day before the birthday (年齢計算ニ関スル法律)."""
    try:
        birthday = birth.replace(year=birth.year + years)
    except ValueError:  # 29 February
        birthday = dt.date(birth.year + years, 3, 1)
    return birthday - dt.timedelta(days=1)


def allowed_ratios(birth: dt.date, on: dt.date) -> tuple[int, ...]:
    """The 負担割合 (percent) a patient may declare on a day (oqs.md §4 and §6).

    未就学 until the first 31 March after reaching 6: 2割; then 3割; from the 1st of the
    month after reaching 70 (the day before the 70th birthday): 2割 or 3割 (現役並み);
    from the 75th birthday (後期高齢者医療): 1割, 2割 or 3割.
    """
    reach6 = reaching_age(birth, 6)
    preschool_end = dt.date(reach6.year + (reach6.month > 3), 3, 31)
    reach70 = reaching_age(birth, 70)
    elderly_from = dt.date(reach70.year + reach70.month // 12, reach70.month % 12 + 1, 1)
    late_elderly_from = reaching_age(birth, 75) + dt.timedelta(days=1)
    if on <= preschool_end:
        return (20,)
    if on < elderly_from:
        return (30,)
    if on < late_elderly_from:
        return (20, 30)
    return (10, 20, 30)


class SelfDeclaration(BaseModel):
    """被保険者資格申立書: every field of oqs.md §6, the day, the reason and the declared share."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    card_shown: bool = Field(
        default=False,
        validate_default=True,  # checked with the other fields: every problem at once
        description="マイナ保険証の提示（申立書はマイナ保険証とあわせて受け付けます）",
    )
    declared_on: dt.date = Field(description="申立日")
    reason: FallbackReason = Field(description="申立ての理由（どの確認ができなかったか）")
    name: Text = Field(min_length=1, max_length=60, description="氏名")
    name_kana: Kana = Field(min_length=1, max_length=60, description="フリガナ（カタカナ）")
    birth_date: dt.date = Field(description="生年月日")
    sex: Sex = Field(description="性別")
    address: Text = Field(min_length=1, max_length=200, description="住所（カードの記載どおり）")
    phone: Code = Field(description="電話番号")
    insurance_type: InsuranceType = Field(description="加入している保険の種類")
    insurer_name: Text | None = Field(default=None, max_length=80, description="保険者名")
    employer_name: Text | None = Field(default=None, max_length=80, description="事業所名")
    declared_ratio: int = Field(description="申し立てる負担割合（%: 10, 20, 30）")
    insurer_number: Code | None = Field(default=None, description="保険者番号（わかれば）")
    symbol: Code | None = Field(default=None, max_length=40, description="記号（わかれば）")
    number: Code | None = Field(default=None, max_length=40, description="番号（わかれば）")
    branch: Code | None = Field(default=None, description="枝番（わかれば、2桁）")
    previous_insurer_number: Code | None = Field(default=None, description="前の保険者番号")
    previous_symbol: Code | None = Field(default=None, max_length=40)
    previous_number: Code | None = Field(default=None, max_length=40)
    note: Text | None = Field(default=None, max_length=400, description="備考")

    @field_validator("card_shown")
    @classmethod
    def _card_shown(cls, value: bool, info: ValidationInfo) -> bool:
        if not value and not _stored(info):
            # the form is for a valid qualification the card route could not confirm
            raise ValueError(CARD_NOT_SHOWN_MESSAGE)
        return value

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, value: Any) -> Any:
        return FallbackReason.parse(value) if isinstance(value, str) else value

    @field_validator("name_kana")
    @classmethod
    def _kana(cls, value: str) -> str:
        if not KATAKANA.fullmatch(value):
            raise ValueError("フリガナはカタカナで書いてください")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        digits = value.replace("-", "")
        if not PHONE.fullmatch(value) or not 10 <= len(digits) <= 11:
            raise ValueError(f"電話番号の形が正しくありません（{value!r}、例 03-1234-5678）")
        return value

    @field_validator("insurer_number", "previous_insurer_number")
    @classmethod
    def _insurer(cls, value: str | None) -> str | None:
        return None if not value else check_insurer_number(value)

    @field_validator("branch")
    @classmethod
    def _branch(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"[0-9]{2}", value):
            raise ValueError("枝番は2桁の数字です")
        return value or None

    @field_validator("declared_ratio")
    @classmethod
    def _ratio(cls, value: int) -> int:
        if value not in (10, 20, 30):
            raise ValueError("負担割合は 10・20・30（%）のどれかです")
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> SelfDeclaration:
        if _stored(info):
            return self
        if self.reason is FallbackReason.NO_CARD:
            raise _FieldProblem("reason", NO_CARD_MESSAGE)
        self._check_dates(today_jst())
        allowed = allowed_ratios(self.birth_date, self.declared_on)
        if self.declared_ratio not in allowed:
            shares = "・".join(f"{r // 10}割" for r in allowed)
            raise _FieldProblem(
                "declared_ratio",
                f"この年齢の負担割合は {shares} です（申立ては {self.declared_ratio // 10}割）",
            )
        if (self.symbol or self.number) and not self.insurer_number:
            message = "記号・番号を書くときは保険者番号も書いてください"
            raise _FieldProblem("insurer_number", message)
        return self

    def _check_dates(self, today: dt.date) -> None:
        if self.birth_date < dt.date(1900, 1, 1):
            raise _FieldProblem(
                "birth_date", f"生年月日が古すぎます（{self.birth_date}、1900年以降）"
            )
        if self.declared_on > today + dt.timedelta(days=1):
            raise _FieldProblem("declared_on", f"申立日が未来の日付です（{self.declared_on}）")
        if self.declared_on < today - dt.timedelta(days=DECLARED_DAYS_BACK):
            raise _FieldProblem(
                "declared_on",
                f"申立日が古すぎます（{self.declared_on}）: 受診日の申立てです"
                f"（今日から{DECLARED_DAYS_BACK}日前まで）",
            )
        if self.birth_date > self.declared_on:
            raise _FieldProblem("birth_date", "生年月日が申立日より後になっています")
        if self.birth_date > today:
            raise _FieldProblem("birth_date", f"生年月日が未来の日付です（{self.birth_date}）")

    @classmethod
    def parse(cls, data: Any) -> SelfDeclaration:
        """Validate, collecting every problem into one :class:`DeclarationError`."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise DeclarationError([_problem(err) for err in exc.errors()]) from None

    @property
    def queryable(self) -> bool:
        """Enough to query OQS by number (保険者番号・記号・番号 and the birth date)."""
        return bool(self.insurer_number and self.symbol and self.number)

    def billing_hint(self) -> BillingHint:
        if self.queryable:
            return BillingHint(
                "current",
                self.insurer_number or "",
                f"{self.symbol}・{self.number}",
                "申立ての保険者番号・記号・番号で請求（資格確認後）",
            )
        if self.previous_insurer_number:
            return BillingHint(
                "previous",
                self.previous_insurer_number,
                f"{self.previous_symbol or ''}・{self.previous_number or ''}",
                "前の資格情報で請求（新しい資格が判明したら差し替え）",
            )
        return BillingHint(
            "unknown",
            "7" * 8,
            "7" * 7,
            "不詳請求：保険者番号・記号番号をすべて7で記入し、摘要欄に申立書の内容を記載",
        )


@dataclass(frozen=True)
class BillingHint:
    kind: str  # current | previous | unknown (不詳)
    insurer_number: str
    symbol_number: str
    note: str


_LABELS = {
    name: (field.description or name).split("（")[0]
    for name, field in SelfDeclaration.model_fields.items()
}


_MESSAGES = {
    "missing": "記入が必要です",
    "extra_forbidden": "申立書にない項目です",
    "enum": "選べない値です",
    "string_too_short": "空です",
    "string_too_long": "長すぎます",
    "date_from_datetime_parsing": "日付の形が正しくありません（例 1990-05-17）",
    "date_parsing": "日付の形が正しくありません（例 1990-05-17）",
    "date_type": "日付の形が正しくありません（例 1990-05-17）",
    "int_parsing": "数字で書いてください",
    "int_type": "数字で書いてください",
    "string_type": "文字で書いてください",
}


def _label(field: str) -> str:
    return _LABELS.get(field, field)


def _problem(err: ErrorDetails) -> Problem:
    """A pydantic error as the form shows it: the field it blames, a Japanese message."""
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, _FieldProblem):
        return Problem(cause.field, str(cause))
    message = _MESSAGES.get(err["type"]) or str(err["msg"])
    if err["type"] == "enum":
        message += f"（{err.get('ctx', {}).get('expected', '')}）"
    message = message.removeprefix("Value error, ")
    field = str(err["loc"][0]) if err["loc"] else None
    return Problem(field, message)
