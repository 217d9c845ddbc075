"""The service's answers as typed values, and their one conversion to the format.

The use cases build these frozen models; the result message's vocabulary (``XmlMsg``'s
element names, oqs.md §2) is met once, here at the edge, by :func:`to_format`: every
model stands for one element of :data:`mock_oqs.format.XMLMSG`, and each field for the
child whose name is the field's in CamelCase (``insurer_number`` → ``InsurerNumber``) —
checked against the table when this module is imported, so ``format.py`` stays the
format's single description. A field whose element holds one repeated child (``ResultList``
→ ``ResultOfQualificationConfirmation``, ``MedicalSubsidyList`` → ``MedicalSubsidyInfo``
…) holds a tuple of that child's model.

The values are already the format's text (codes, ``YYYYMMDD`` dates): the registry's own
forms are converted where a model is made (:mod:`mock_oqs.qualifications`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from mock_oqs.clock import stamp, ymd
from mock_oqs.codes import QualificationValidity
from mock_oqs.format import (
    ELDERLY,
    LIMIT,
    MEDICAL_AID,
    RESULT,
    SEARCH_INFO,
    SPECIFIC_DISEASES,
    SUBSIDIES,
    XMLMSG,
    Element,
)

# --- the models --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElderlyRecipient:
    """高齢受給者証 (70–74, not 後期高齢者医療)."""

    ELEMENT: ClassVar[Element] = ELDERLY
    elderly_recipient_certificate_date: str
    elderly_recipient_valid_start_date: str
    elderly_recipient_valid_end_date: str
    elderly_recipient_contribution_ratio: str


@dataclass(frozen=True, slots=True)
class LimitCertificate:
    """限度額適用認定証 information."""

    ELEMENT: ClassVar[Element] = LIMIT
    limit_application_certificate_classification: str
    limit_application_certificate_classification_flag: str
    limit_application_certificate_date: str | None
    limit_application_certificate_valid_start_date: str | None
    limit_application_certificate_valid_end_date: str | None
    limit_application_certificate_long_term_date: str | None


@dataclass(frozen=True, slots=True)
class SpecificDiseaseCertificate:
    """One 特定疾病療養受療証."""

    ELEMENT: ClassVar[Element] = SPECIFIC_DISEASES.child("SpecificDiseasesCertificateInfo")
    specific_diseases_disease_category: str
    specific_diseases_certificate_date: str | None
    specific_diseases_valid_start_date: str | None
    specific_diseases_valid_end_date: str | None
    specific_diseases_self_pay: str


@dataclass(frozen=True, slots=True)
class MedicalTicket:
    """One 医療券 / 調剤券 of 医療扶助 (or the entry that says none entrusts here)."""

    ELEMENT: ClassVar[Element] = MEDICAL_AID.child("MedicalTicketInfo")
    ticket_type: str
    medical_treatment_month: str
    designated_medical_institution_flag: str
    medical_ticket_valid_date: str | None = None
    medical_ticket_expiration_date: str | None = None
    issue_number: str | None = None
    designated_medical_institution_code: str | None = None
    designated_medical_institution_name: str | None = None
    injury_name1: str | None = None
    medical_treatment_type: str | None = None
    self_pay_amount: str | None = None
    district_contact_name: str | None = None
    handling_contact_name: str | None = None
    single_or_combined_use: str | None = None


@dataclass(frozen=True, slots=True)
class MedicalSubsidy:
    """One 医療費助成 受給者証 registered for use by card (the PMH pilot)."""

    ELEMENT: ClassVar[Element] = SUBSIDIES.child("MedicalSubsidyInfo")
    medical_subsidy_insurer_number: str
    medical_subsidy_recipient_number: str
    certification_name: str
    medical_subsidy_valid_start_date: str | None
    medical_subsidy_valid_end_date: str | None
    max_copayment_amount: str | None
    is_always_reimbursement: str


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Qualified:
    """What the registry says of one qualification on a day, for one facility: the part
    of an entry no request changes (cached by :mod:`mock_oqs.qualifications`; compared by
    identity, so that its format is made once)."""

    ELEMENT: ClassVar[Element] = RESULT
    insured_card_classification: str
    insurer_number: str
    insured_card_symbol: str | None
    insured_identification_number: str
    insured_branch_number: str | None
    personal_family_classification: str
    insured_name: str
    name: str
    name_of_other: str | None
    name_kana: str
    name_of_other_kana: str | None
    sex1: str
    sex2: str | None
    birthdate: str
    address: str | None
    post_number: str | None
    insured_certificate_issuance_date: str | None
    insured_card_valid_date: str | None
    insured_card_expiration_date: str | None
    qualification_date: str | None
    disqualification_date: str | None
    reason_of_loss: str | None
    insured_partial_contribution_ratio: str | None
    preschool_classification: str | None
    insurer_name: str | None
    elderly_recipient_certificate_info: ElderlyRecipient | None
    public_expense_result_list: tuple[MedicalTicket, ...] | None


@dataclass(frozen=True, slots=True)
class Disclosed:
    """The part of an entry that follows the patient's consents and this request: the
    consent flags and times, what they open, the facility's 照会番号, the confirmation key
    and the prescription form."""

    ELEMENT: ClassVar[Element] = RESULT
    reference_number: str | None = None
    qualification_confirmation_key: str | None = None
    limit_application_certificate_related_cons_flg: str = "0"
    limit_application_certificate_related_cons_time: str | None = None
    limit_application_certificate_related_info: LimitCertificate | None = None
    specific_diseases_certificate_related_cons_flg: str = "0"
    specific_diseases_certificate_related_cons_time: str | None = None
    specific_diseases_certificate_list: tuple[SpecificDiseaseCertificate, ...] | None = None
    medical_subsidy_list: tuple[MedicalSubsidy, ...] | None = None
    specific_health_checkups_info_cons_flg: str = "0"
    specific_health_checkups_info_cons_time: str | None = None
    specific_health_checkups_info_available_time: str | None = None
    pharmacists_info_cons_flg: str = "0"
    pharmacists_info_cons_time: str | None = None
    pharmacists_info_available_time: str | None = None
    diagnosis_info_cons_flg: str = "0"
    diagnosis_info_cons_time: str | None = None
    diagnosis_info_available_time: str | None = None
    operation_info_cons_flg: str = "0"
    operation_info_cons_time: str | None = None
    operation_info_available_time: str | None = None
    prescription_issue_select: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """``ResultOfQualificationConfirmation``: the registry's part and the request's."""

    qualified: Qualified
    disclosed: Disclosed


@dataclass(frozen=True, slots=True)
class SearchInfo:
    """``QualificationConfirmSearchInfo``: what a confirmation by number asked."""

    ELEMENT: ClassVar[Element] = SEARCH_INFO
    insurer_number: str
    insured_card_symbol: str | None
    insured_identification_number: str
    insured_branch_number: str | None
    birthdate: str
    limit_application_certificate_related_cons_flg: str


@dataclass(frozen=True, slots=True)
class Header:
    """``MessageHeader``."""

    ELEMENT: ClassVar[Element] = XMLMSG.child("MessageHeader")
    # the header names every element, null or not
    KEEP_NONE: ClassVar[frozenset[str]] = frozenset(
        {"arbitrary_file_identifier", "error_code", "error_message"}
    )
    process_execution_time: str
    qualification_confirmation_date: str
    medical_institution_code: str
    arbitrary_file_identifier: str | None
    reference_classification: str
    segment_of_result: str = "1"
    error_code: str | None = None
    error_message: str | None = None
    character_code_identifier: str = "0"

    @classmethod
    def at(
        cls, now: dt.datetime, facility: str, classification: str, file_id: str | None
    ) -> Header:
        """The header of an answer made ``now`` for ``facility`` (classification 1: by
        card, 2: by number)."""
        return cls(
            process_execution_time=stamp(now),
            qualification_confirmation_date=ymd(now),
            medical_institution_code=facility,
            arbitrary_file_identifier=file_id,
            reference_classification=classification,
        )


@dataclass(frozen=True, slots=True)
class Body:
    """``MessageBody``: a result (status 1, a validity) or a refusal (status 2, a code)."""

    ELEMENT: ClassVar[Element] = XMLMSG.child("MessageBody")
    KEEP_NONE: ClassVar[frozenset[str]] = frozenset(
        {"processing_result_code", "processing_result_message", "qualification_validity"}
    )
    processing_result_status: str
    processing_result_code: str | None
    processing_result_message: str | None
    qualification_validity: QualificationValidity | None
    result_list: tuple[Entry, ...] = ()
    qualification_confirm_search_info: SearchInfo | None = None

    @property
    def outcome(self) -> str:
        """The result code or the validity: what the access log records."""
        return self.processing_result_code or str(self.qualification_validity or "")


@dataclass(frozen=True, slots=True)
class RegistrationOffer:
    """Beside a MOCK-R003 answer whose holder was proven: 保険証利用登録 may follow."""

    token: str
    expires_at: str  # ISO 8601, UTC


@dataclass(frozen=True, slots=True)
class Message:
    """The answer: the two parts of ``XmlMsg`` and, beside them, the simulator's notices
    (never inside the document, oqs.md §2) and a registration offer; ``persona``: who it
    was, for the access log only."""

    header: Header
    body: Body
    notices: tuple[str, ...] = ()
    registration_offer: RegistrationOffer | None = None
    # the first step of a confirmation in two steps: the card can be confirmed, the
    # consents may follow (POST /v1/confirmations/card/consents); same fields as an offer
    consent_offer: RegistrationOffer | None = None
    persona: str | None = None

    @classmethod
    def refused(cls, header: Header, code: str, text: str, persona: str | None = None) -> Message:
        """ProcessingResultStatus 2: the service answers, and refuses (a MOCK-R… code)."""
        body = Body(
            processing_result_status="2",
            processing_result_code=code,
            processing_result_message=text,
            qualification_validity=None,
        )
        return cls(header, body, persona=persona)

    def with_search_info(self, info: SearchInfo) -> Message:
        return dataclasses.replace(
            self, body=dataclasses.replace(self.body, qualification_confirm_search_info=info)
        )


# --- to the format -----------------------------------------------------------------------


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


TEXT, MODEL, LIST = 0, 1, 2  # how a field's value becomes its element's
Plan = tuple[tuple[str, str, int, str], ...]
_PLANS: dict[type[Any], Plan] = {}


def _plan(model: type[Any]) -> Plan:
    """Per field: its name, its element's, how it converts (text, a model, a tuple of the
    element's one repeated child) and, for a tuple, that child's name. Made once a model."""
    known = _PLANS.get(model)
    if known is not None:
        return known
    element: Element = model.ELEMENT
    hints = typing.get_type_hints(model)
    plan = []
    for field in dataclasses.fields(model):
        name = _camel(field.name)
        child = element.child(name)  # KeyError: an element the format does not have
        if len(child.children) == 1 and child.children[0].repeated:
            plan.append((field.name, name, LIST, child.children[0].name))
        elif child.children:
            plan.append((field.name, name, MODEL, ""))
        else:
            if str not in _leaf_types(hints[field.name]):
                raise TypeError(f"{model.__name__}.{field.name} holds text: {child.name}")
            plan.append((field.name, name, TEXT, ""))
    _PLANS[model] = tuple(plan)
    return _PLANS[model]


def _leaf_types(hint: Any) -> set[type[Any]]:
    args = typing.get_args(hint)
    found = {a for a in args if isinstance(a, type)} if args else {hint}
    return {str if isinstance(t, type) and issubclass(t, str) else t for t in found}


def _model_to_format(model: Any) -> dict[str, Any]:
    if type(model) is Entry:
        return _qualified_to_format(model.qualified) | _model_to_format(model.disclosed)
    keep_none: frozenset[str] = getattr(model, "KEEP_NONE", _NOTHING)
    out: dict[str, Any] = {}
    for field, name, kind, child in _plan(type(model)):
        value = getattr(model, field)
        if value is None:
            if field in keep_none:
                out[name] = None
        elif kind == TEXT:
            out[name] = value if type(value) is str else str(value)  # an enum: its code
        elif kind == MODEL:
            out[name] = _model_to_format(value)
        else:
            out[name] = {child: [_model_to_format(item) for item in value]}
    return out


_NOTHING: frozenset[str] = frozenset()


_FORMATTED: weakref.WeakKeyDictionary[Qualified, dict[str, Any]] = weakref.WeakKeyDictionary()


def _qualified_to_format(qualified: Qualified) -> dict[str, Any]:
    """Made once per registry part while the registry view keeps it (by identity; a
    lookup's own part goes with it)."""
    found = _FORMATTED.get(qualified)
    if found is None:
        found = _FORMATTED[qualified] = _model_to_format(qualified)
    return found


def to_format(message: Message) -> dict[str, Any]:
    """The JSON answer: ``MessageHeader`` and ``MessageBody`` as the format names them,
    ``MockNotices`` beside them (and ``RegistrationOffer`` where there is one)."""
    out: dict[str, Any] = {
        "MessageHeader": _model_to_format(message.header),
        "MessageBody": _model_to_format(message.body),
        "MockNotices": list(message.notices),
    }
    if message.registration_offer is not None:
        out["RegistrationOffer"] = {
            "token": message.registration_offer.token,
            "expires_at": message.registration_offer.expires_at,
        }
    if message.consent_offer is not None:
        out["ConsentOffer"] = {
            "token": message.consent_offer.token,
            "expires_at": message.consent_offer.expires_at,
        }
    return out


def to_json(message: Message) -> bytes:
    return orjson.dumps(to_format(message))


for _model in (
    ElderlyRecipient,
    LimitCertificate,
    SpecificDiseaseCertificate,
    MedicalTicket,
    MedicalSubsidy,
    Qualified,
    Disclosed,
    SearchInfo,
    Header,
    Body,
):
    _plan(_model)  # every model's names checked against the format when imported
del _model
