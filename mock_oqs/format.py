"""The result message ``XmlMsg`` as real result files are (oqs.md §2), written once.

:data:`XMLMSG` lists every element the format has, in the order this simulator
writes them, with the form of its text and whether it must be present. The XML
writer (``mock_oqs.xml``) walks it and refuses anything that is not in it (the
document is closed: the simulator's own facts travel beside it); the format test
reads every persona's result back with an independent parser and checks it
against the same table.

Order: real files do not keep one element order (published face-folder samples
list a result's elements in no fixed order), so readers must not depend on it;
we write the order of oqs.md §2.

The registry keeps its own forms; they are converted here, at the edge:

- ``Name`` / ``InsuredName``: family and given name separated by U+3000;
- ``NameKana``: half-width katakana with an ASCII space;
- ``PostNumber``: ``NNN-NNNN``.

Elements beyond oqs.md §2 that real readers look for, what we found and where
(looked up 2026-12 with the search tool; read, not copied):

- ``NameOfOther`` / ``NameOfOtherKana``: 通称名 and its reading. hangilc/myclinic-ts
  (``packages/onshi-result/ResultOfQualificationConfirmation.ts``) documents them as
  "a name other than the card-face name, reported for reasons such as a 通称" and its
  half-width reading; YUKI-ENT/OQSDrug2 (``QualificationImportModels.cs``, ``NOO`` /
  ``NOOK``; ``QualificationFaceExporter.cs``) imports and writes them right after
  ``Name`` and ``NameKana``. Same forms as ``Name`` / ``NameKana``. Written where the
  person reported one (persona ``tsushomei``).
- ``Sex2``: myclinic-ts: set where the insurer applies the 2012 事務連絡 on the sex shown
  on 被保険者証 (or the 医療券 記載要領); ``Sex1`` is the sex on the card's face. We write
  ``Sex1`` as registered and ``Sex2`` as the card shows it, only where the two differ
  (persona ``tsushomei``); codes as ``Sex1`` (1 男, 2 女, 3 未設定). Whether a real
  result puts the printed sex in ``Sex1`` or ``Sex2`` for such a person is not public:
  [uncertain]. OQSDrug2 reads ``Sex1`` first, then ``Sex2``.
- ``QualificationConfirmationKey``: present in a real face/ file of a card confirmation
  (YUKI-ENT/MynaReception ``docs/ReceptionAgent_ReferenceNumber_Registration_Spec.md``
  §17 lists it with the insurance numbers and ``Birthdate``); its form and use are not
  public. Ours: 32 upper-case hex characters, new for every card confirmation, in every
  entry of the result; never on a confirmation by numbers.
- ``DisqualificationDate`` / ``ReasonOfLoss``: a loss that happened. OQSDrug2's importer
  maps ``DisqualificationDate`` to the qualification's end date, so a 有効 result
  carries neither (the registry's plan for the 75th birthday stays in the registry).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import jaconv

DATE = r"[0-9]{8}"  # YYYYMMDD
TIME = r"[0-9]{14}"  # YYYYMMDDHHMMSS
CONSENT = r"[0-3]"  # OQSCD016


@dataclass(frozen=True, slots=True)
class Element:
    """One element of the format: its text's form, or its children."""

    name: str
    pattern: str | None = None  # a full match of the text; None: any printable text
    required: bool = False  # present in every instance of its parent
    children: tuple[Element, ...] = ()
    repeated: bool = False  # may occur more than once in its parent
    max_length: int | None = None

    def child(self, name: str) -> Element:
        for element in self.children:
            if element.name == name:
                return element
        raise KeyError(f"{name} is not an element of {self.name}")

    def matches(self, text: str) -> bool:
        if self.max_length is not None and len(text) > self.max_length:
            return False
        return self.pattern is None or re.fullmatch(self.pattern, text) is not None


def _consent_block(prefix: str) -> tuple[Element, ...]:
    return (
        Element(f"{prefix}ConsFlg", CONSENT, required=True),
        Element(f"{prefix}ConsTime", TIME),
        Element(f"{prefix}AvailableTime", TIME),
    )


ELDERLY = Element(
    "ElderlyRecipientCertificateInfo",
    children=(
        Element("ElderlyRecipientCertificateDate", DATE, required=True),
        Element("ElderlyRecipientValidStartDate", DATE, required=True),
        Element("ElderlyRecipientValidEndDate", DATE, required=True),
        Element("ElderlyRecipientContributionRatio", r"0[123]0", required=True),
    ),
)

LIMIT = Element(
    "LimitApplicationCertificateRelatedInfo",
    children=(
        Element("LimitApplicationCertificateClassification", r"0[123]", required=True),
        Element("LimitApplicationCertificateClassificationFlag", r"[AB][0-9]{2}", required=True),
        Element("LimitApplicationCertificateDate", DATE, required=True),
        Element("LimitApplicationCertificateValidStartDate", DATE, required=True),
        Element("LimitApplicationCertificateValidEndDate", DATE),
        Element("LimitApplicationCertificateLongTermDate", DATE),
    ),
)

SPECIFIC_DISEASES = Element(
    "SpecificDiseasesCertificateList",
    children=(
        Element(
            "SpecificDiseasesCertificateInfo",
            repeated=True,
            required=True,
            children=(
                Element("SpecificDiseasesDiseaseCategory", r"[123]", required=True),
                Element("SpecificDiseasesCertificateDate", DATE, required=True),
                Element("SpecificDiseasesValidStartDate", DATE, required=True),
                Element("SpecificDiseasesValidEndDate", DATE),
                Element("SpecificDiseasesSelfPay", r"[0-9]{1,6}", required=True),
            ),
        ),
    ),
)

MEDICAL_AID = Element(
    "PublicExpenseResultList",  # 医療扶助資格確認結果リスト
    children=(
        Element(
            "MedicalTicketInfo",  # 医療券・調剤券情報
            repeated=True,
            required=True,
            children=(
                Element("TicketType", r"[12]", required=True),
                Element("MedicalTicketValidDate", DATE),
                Element("MedicalTicketExpirationDate", DATE),
                Element("IssueNumber", r"[0-9]{1,20}"),
                Element("MedicalTreatmentMonth", r"[0-9]{6}", required=True),
                Element("DesignatedMedicalInstitutionCode", r"[0-9]{10}"),
                Element("DesignatedMedicalInstitutionFlag", r"[01]", required=True),
                Element("DesignatedMedicalInstitutionName"),
                Element("PrescriptionIssuerMedicalInstitutionCode", r"[0-9]{10}"),
                Element("PrescriptionIssuerMedicalInstitutionName"),
                Element("InjuryName1"),
                Element("InjuryName2"),
                Element("InjuryName3"),
                Element("MedicalTreatmentType", r"[12]"),
                Element("SelfPayAmount", r"[0-9]{1,7}"),
                Element("DistrictContactName"),
                Element("HandlingContactName"),
                Element("SingleOrCombinedUse", r"[12]"),
                Element("StatusOfSocialInsurance"),
                Element("ConsistencyFlag"),
                Element("StatusOfInfecton"),  # sic: the published element name
                Element("StatusOfElderlyMedicalCare"),
                Element("StatusOfPrefecturalExpenses"),
                Element("Remarks1"),
                Element("Remarks2"),
                Element("Remarks3"),
            ),
        ),
    ),
)

SUBSIDIES = Element(
    # 公費 by card where the pilot runs; names after the PMH API (mock_oqs/service.py)
    "MedicalSubsidyList",
    children=(
        Element(
            "MedicalSubsidyInfo",
            repeated=True,
            required=True,
            children=(
                Element("MedicalSubsidyInsurerNumber", r"[0-9]{8}", required=True),
                Element("MedicalSubsidyRecipientNumber", r"[0-9]{1,30}", required=True),
                Element("CertificationName", required=True, max_length=100),
                Element("MedicalSubsidyValidStartDate", DATE, required=True),
                Element("MedicalSubsidyValidEndDate", DATE, required=True),
                Element("MaxCopaymentAmount", r"[0-9]{1,7}"),
                Element("IsAlwaysReimbursement", r"[01]", required=True),
            ),
        ),
    ),
)

RESULT = Element(
    "ResultOfQualificationConfirmation",
    repeated=True,
    children=(
        Element("InsuredCardClassification", r"0[1-7]|A1", required=True),
        Element("InsurerNumber", r"[0-9]{8}|  [0-9]{6}", required=True),
        Element("InsuredCardSymbol", max_length=38),
        Element("InsuredIdentificationNumber", required=True, max_length=38),
        Element("InsuredBranchNumber", r"[0-9]{2}"),
        Element("PersonalFamilyClassification", r"[12]", required=True),
        Element("InsuredName", r"[^\s　]+　[^\s　]+"),
        Element("Name", r"[^\s　]+　[^\s　]+", required=True),
        Element("NameOfOther", r"[^\s　]+　[^\s　]+"),
        Element("NameKana", r"[\uff61-\uff9f]+ [\uff61-\uff9f]+", required=True),
        Element("NameOfOtherKana", r"[\uff61-\uff9f]+ [\uff61-\uff9f]+"),
        Element("Sex1", r"[123]", required=True),
        Element("Sex2", r"[123]"),
        Element("Birthdate", DATE, required=True),
        Element("Address"),
        Element("PostNumber", r"[0-9]{3}-[0-9]{4}"),
        Element("InsuredCertificateIssuanceDate", DATE, required=True),
        Element("InsuredCardValidDate", DATE, required=True),
        Element("InsuredCardExpirationDate", DATE),
        Element("QualificationDate", DATE, required=True),
        Element("DisqualificationDate", DATE),
        Element("ReasonOfLoss", r"0[123]|99"),
        Element("InsuredPartialContributionRatio", r"0[123]0"),
        Element("PreschoolClassification", r"1"),
        Element("InsurerName", required=True),
        Element("ReferenceNumber", max_length=50),
        Element("QualificationConfirmationKey", r"[0-9A-Z]{32}"),
        ELDERLY,
        Element("LimitApplicationCertificateRelatedConsFlg", CONSENT, required=True),
        Element("LimitApplicationCertificateRelatedConsTime", TIME),
        LIMIT,
        Element("SpecificDiseasesCertificateRelatedConsFlg", CONSENT, required=True),
        Element("SpecificDiseasesCertificateRelatedConsTime", TIME),
        SPECIFIC_DISEASES,
        MEDICAL_AID,
        SUBSIDIES,
        *_consent_block("SpecificHealthCheckupsInfo"),
        *_consent_block("PharmacistsInfo"),
        *_consent_block("DiagnosisInfo"),
        *_consent_block("OperationInfo"),
        Element("PrescriptionIssueSelect", r"[12]"),  # OQSCD017: 1 電子, 2 紙
    ),
)

SEARCH_INFO = Element(
    "QualificationConfirmSearchInfo",
    children=(
        Element("InsurerNumber", r"[0-9]{8}|  [0-9]{6}", required=True),
        Element("InsuredCardSymbol", max_length=38),
        Element("InsuredIdentificationNumber", required=True, max_length=38),
        Element("InsuredBranchNumber", r"[0-9]{2}"),
        Element("Birthdate", DATE, required=True),
        Element("LimitApplicationCertificateRelatedConsFlg", r"[01]", required=True),
    ),
)

XMLMSG = Element(
    "XmlMsg",
    children=(
        Element(
            "MessageHeader",
            required=True,
            children=(
                Element("ProcessExecutionTime", TIME, required=True),
                Element("QualificationConfirmationDate", DATE, required=True),
                Element("MedicalInstitutionCode", r"[0-9]{10}", required=True),
                Element("ArbitraryFileIdentifier", max_length=50),
                Element("ReferenceClassification", r"[12]", required=True),
                Element("SegmentOfResult", r"[129]", required=True),
                Element("ErrorCode"),
                Element("ErrorMessage"),
                Element("CharacterCodeIdentifier", r"[01]", required=True),
            ),
        ),
        Element(
            "MessageBody",
            required=True,
            children=(
                Element("ProcessingResultStatus", r"[12]", required=True),
                Element("ProcessingResultCode"),
                Element("ProcessingResultMessage"),
                Element("QualificationValidity", r"[1-6]"),
                SEARCH_INFO,
                Element("ResultList", children=(RESULT,)),
            ),
        ),
    ),
)


def walk(element: Element = XMLMSG, path: str = "") -> Iterator[tuple[str, Element]]:
    """Every element with its path (``XmlMsg/MessageBody/ResultList/…``)."""
    here = f"{path}/{element.name}" if path else element.name
    yield here, element
    for child in element.children:
        yield from walk(child, here)


# --- the registry's forms → the format's -------------------------------------------------


def result_name(name: str) -> str:
    """「診療 太郎」 (any space) → 「診療　太郎」: family and given name split by U+3000."""
    return "　".join(name.split())


def result_kana(kana: str) -> str:
    """「シンリョウ タロウ」 → 「ｼﾝﾘｮｳ ﾀﾛｳ」: half-width katakana, an ASCII space between."""
    half: str = jaconv.z2h(kana, kana=True, ascii=False, digit=False)
    return " ".join(half.split())


def result_post_number(digits: str) -> str:
    """「1008916」 → 「100-8916」 (already hyphenated numbers are kept)."""
    compact = digits.replace("-", "")
    if len(compact) != 7 or not compact.isdigit():
        raise ValueError(f"a postal code has 7 digits, got {digits!r}")
    return f"{compact[:3]}-{compact[3:]}"
