"""Qualification results as the terminal reads them (oqs.md §2–3).

The service's answer is parsed into :class:`QualificationResult`; anything that
does not fit raises ``ValueError`` (the client turns it into ``OqsMalformed``).
The terminal does not share code with the service: it reads the documented
fields and codes like any client of the real one would.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_pascal

VALIDITY_LABELS = {
    "1": "有効",
    "2": "無効",
    "3": "無効（新しい資格あり）",
    "4": "該当資格なし",
    "5": "複数該当",
}

NOTICE_LABELS = {
    "certificate-grace": "電子証明書の期限切れ（猶予期間中）：資格情報のみ。更新をご案内ください",
    "certificate-renewal-due": "電子証明書の有効期限が3か月以内です。更新をご案内ください",
    "public-expense-paper": "公費負担医療・助成の受給者証は紙での提示が必要です",
    "preschool-ratio": "未就学児：負担割合 2割",
    "elderly-recipient": "高齢受給者：負担割合は高齢受給者情報のとおり",
}


def notice_label(code: str) -> str:
    if code.startswith("limit-"):
        return f"限度額適用区分あり（{code.removeprefix('limit-')}）"
    if code.startswith("specific-disease-"):
        return "特定疾病療養受療証の情報あり"
    return NOTICE_LABELS.get(code, code)


def ratio_label(code: str | None) -> str:
    """ "030" → "3割"; unknown or missing codes are shown as they are."""
    if code is None or not code.isdigit() or int(code) % 10:
        return code or "不明"
    return f"{int(code) // 10}割"


class _Fields(BaseModel):
    model_config = ConfigDict(alias_generator=to_pascal, populate_by_name=True, extra="allow")


class MessageHeader(_Fields):
    process_execution_time: str
    qualification_confirmation_date: str | None = None
    medical_institution_code: str | None = None
    arbitrary_file_identifier: str | None = None
    reference_classification: str | None = None
    segment_of_result: str
    error_code: str | None = None
    error_message: str | None = None
    character_code_identifier: str | None = None


class QualificationEntry(_Fields):
    """One ``ResultOfQualificationConfirmation``."""

    insured_card_classification: str | None = None
    insurer_number: str | None = None
    insured_card_symbol: str | None = None
    insured_identification_number: str | None = None
    insured_branch_number: str | None = None
    personal_family_classification: str | None = None
    insured_name: str | None = None
    name: str | None = None
    name_kana: str | None = None
    sex1: str | None = None
    birthdate: str | None = None
    address: str | None = None
    post_number: str | None = None
    qualification_date: str | None = None
    disqualification_date: str | None = None
    reason_of_loss: str | None = None
    insured_partial_contribution_ratio: str | None = None
    preschool_classification: str | None = None
    insurer_name: str | None = None
    elderly_recipient_certificate_info: dict[str, Any] | None = None
    limit_application_certificate_related_info: dict[str, Any] | None = None
    specific_diseases_certificate_list: list[dict[str, Any]] | None = None
    reference_number: str | None = None

    @property
    def ratio(self) -> str:
        return ratio_label(self.insured_partial_contribution_ratio)


class ResultList(_Fields):
    result_of_qualification_confirmation: list[QualificationEntry] = Field(default_factory=list)


class MessageBody(_Fields):
    processing_result_status: str
    processing_result_code: str | None = None
    processing_result_message: str | None = None
    qualification_validity: str | None = None
    result_list: ResultList = Field(default_factory=ResultList)
    mock_notices: list[str] = Field(default_factory=list)


class QualificationResult(_Fields):
    """A whole result message, with the client-side rule of oqs.md §2."""

    message_header: MessageHeader
    message_body: MessageBody

    @classmethod
    def parse(cls, data: Any) -> QualificationResult:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"not a qualification result: {where}: {first['msg']}") from None

    @property
    def entries(self) -> list[QualificationEntry]:
        return self.message_body.result_list.result_of_qualification_confirmation

    @property
    def confirmed(self) -> bool:
        """Valid only when SegmentOfResult 1, ProcessingResultStatus 1, validity 1, one entry."""
        return (
            self.message_header.segment_of_result == "1"
            and self.message_body.processing_result_status == "1"
            and self.message_body.qualification_validity == "1"
            and len(self.entries) == 1
        )

    @property
    def validity_label(self) -> str:
        code = self.message_body.qualification_validity
        if self.message_body.processing_result_status != "1":
            return "照会エラー"
        return VALIDITY_LABELS.get(code or "", f"不明な資格有効性 ({code})")

    @property
    def notices(self) -> list[str]:
        return [notice_label(code) for code in self.message_body.mock_notices]
