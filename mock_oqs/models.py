"""Request and result models of the mock service.

Results use the real names of the qualification result message (oqs.md §2):
``MessageHeader`` / ``MessageBody`` / ``ResultList`` …; requests are the
mock's own (documented in OpenAPI at /docs).
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from reader.safe_text import unsafe_characters

Base64 = Annotated[str, Field(pattern=r"^[A-Za-z0-9+/]+={0,2}$", max_length=16384)]


def _no_controls(value: str) -> str:
    """Refuse what would make a result ill-formed XML or act on a terminal (C0/C1, DEL,
    bidi overrides, noncharacters): the request is refused, never echoed with them."""
    found = unsafe_characters(value)
    if found:
        raise ValueError(f"control or invisible characters are not allowed: {', '.join(found)}")
    return value


SafeText = Annotated[str, AfterValidator(_no_controls)]


class Method(enum.StrEnum):
    PIN = "pin"
    FACE = "face"
    VISUAL = "visual"


class Route(enum.StrEnum):
    """Where the card was read: the patient's face-recognition reader, or a staff-held
    reader of the 居宅同意取得型 route (oqs.md §6 rung 0)."""

    READER = "reader"
    COUNTER = "counter"


class Consents(BaseModel):
    """What the patient agreed to share (診療・薬剤, 健診, 手術; 限度額情報)."""

    model_config = ConfigDict(extra="forbid")

    medication: bool = Field(default=False, description="診療情報・薬剤情報")
    checkup: bool = Field(default=False, description="特定健診情報")
    operation: bool = Field(default=False, description="手術情報")
    limit: bool = Field(
        default=False,
        description="限度額情報の提供 (true in the reader's flow since 2024-10-07, where it is "
        "provided without a question; false only from the pre-2024 flow)",
    )
    subsidies: bool = Field(
        default=False,
        description="医療費助成の受給者証を利用する: where the pilot runs, the reader asks "
        "「医療費助成の各種受給者証を利用しますか」; yes brings the 公費 information registered "
        "by the municipality (MedicalSubsidyList)",
    )


class NonceResponse(BaseModel):
    nonce: str = Field(description="hex, single use")
    expires_at: str = Field(description="ISO 8601, UTC")


class CardConfirmationRequest(BaseModel):
    """Confirmation by card: the certificate and proof of the holder's presence."""

    model_config = ConfigDict(extra="forbid")

    certificate: Base64 = Field(description="the user-auth certificate, DER, base64")
    method: Method
    nonce: str = Field(pattern=r"^[0-9a-f]{32}$")
    signature: Base64 | None = Field(
        default=None,
        description="PIN path: the card's RSA PKCS#1 v1.5 SHA-256 signature over the nonce",
    )
    statement: SafeText | None = Field(
        default=None,
        max_length=2048,
        description="face/visual path: JSON statement {method, nonce, certificate_sha256, "
        "checked_at}, signed with the facility key",
    )
    statement_signature: Base64 | None = None
    consents: Consents = Field(default_factory=lambda: Consents())
    prescription_issue: str | None = Field(
        default=None,
        pattern=r"^[12]$",
        description="処方箋の発行形態 the patient chose at the reader (OQSCD017: 1 電子, 2 紙); "
        "echoed as PrescriptionIssueSelect",
    )
    arbitrary_file_identifier: SafeText | None = Field(default=None, max_length=50)
    route: Route = Field(
        default=Route.READER,
        description="where the card was read: what the patient may agree to, and whether "
        "保険証利用登録 is offered, follows the route and the method (MOCK-E017)",
    )
    consents_later: bool = Field(
        default=False,
        description="two steps: the holder's proof now, without consents; the answer says "
        "whether the card can be confirmed (a refusal is final) and, where it can, carries "
        "ConsentOffer beside the message: POST /v1/confirmations/card/consents with its "
        "token sends the patient's consents and answers the confirmation",
    )

    @model_validator(mode="after")
    def _nothing_asked_yet(self) -> CardConfirmationRequest:
        if self.consents_later and (self.consents != Consents() or self.prescription_issue):
            raise ValueError("consents_later: consents and prescription_issue come later")
        return self


class ConsentSubmission(BaseModel):
    """The second step of a confirmation by card: what the patient chose at the reader,
    for the proof the first step kept (its ConsentOffer)."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="ConsentOffer.token of the first step's answer (single use, 5 minutes)",
    )
    consents: Consents = Field(default_factory=lambda: Consents())
    prescription_issue: str | None = Field(
        default=None,
        pattern=r"^[12]$",
        description="処方箋の発行形態 (OQSCD017: 1 電子, 2 紙)",
    )


class RegistrationRequest(BaseModel):
    """保険証利用登録 at the reader: the offer a card confirmation answered with."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="RegistrationOffer.token of the MOCK-R003 answer (single use, 5 minutes)",
    )


class PatientNumbers(BaseModel):
    """A patient, by the numbers of a qualification of theirs and, where the request has
    one, the birth date: the clinic software's 照会番号 and YZK / TKK requests name a
    patient by the numbers alone (oqs.md §7); then the numbers must lead to one person."""

    model_config = ConfigDict(extra="forbid")

    insurer_number: SafeText = Field(min_length=6, max_length=8, description="保険者番号")
    symbol: SafeText = Field(default="", max_length=38, description="記号")
    number: SafeText = Field(min_length=1, max_length=38, description="番号")
    branch: str = Field(default="", pattern=r"^([0-9]{2})?$", description="枝番")
    birth_date: str | None = Field(
        default=None, pattern=r"^[0-9]{8}$", description="生年月日 YYYYMMDD (optional)"
    )


class NumberConfirmationRequest(PatientNumbers):
    """Confirmation by the numbers on a 資格確認書 (or re-verification of a 申立書)."""

    birth_date: str = Field(pattern=r"^[0-9]{8}$", description="生年月日 YYYYMMDD")

    limit_consent: bool = Field(default=False, description="限度額情報の提供に同意")
    arbitrary_file_identifier: SafeText | None = Field(default=None, max_length=50)


class ReferenceRegistration(PatientNumbers):
    """照会番号: the clinic's own patient id (診察券番号) for that patient."""

    reference_number: SafeText = Field(
        min_length=1,
        max_length=50,
        pattern=r"^\S(.*\S)?$",
        description="照会番号 (≤ 50 characters; no leading or trailing space)",
    )


class BulkConfirmationRequest(BaseModel):
    """一括照会: many queries by number at once (booked patients of a day)."""

    model_config = ConfigDict(extra="forbid")

    queries: list[NumberConfirmationRequest] = Field(min_length=1, max_length=10_000)


class BulkReferenceRequest(BaseModel):
    """照会番号一括登録: many registrations at once, answered later under a ReceptionNumber."""

    model_config = ConfigDict(extra="forbid")

    registrations: list[ReferenceRegistration] = Field(min_length=1, max_length=10_000)
    arbitrary_file_identifier: SafeText | None = Field(
        default=None, max_length=50, description="the upload's; the results echo it"
    )


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody
