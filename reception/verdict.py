"""What the qualification service's answers say, in the terminal's own words: why it said
no (:class:`Refusal`) and how valid a qualification is (:class:`Validity`). A module of
enums alone, so that the check-in's state machine can decide on them without importing
the result model and its parsers.

The service names its refusals with codes of its own (the mock's, on an error answer and
in the ``ProcessingResultCode`` of a result it could not process; the real service's are
not public, oqs.md §3). Only the OQS client reads those codes
(:func:`reception.oqs_client.refusal_of`): the check-in, the folder interface, the records
view and every front end decide on a :class:`Refusal`, so a service with other codes
changes one table at the edge. The code itself stays on the error and in the result, for
the developer view, the logs and the exported result file.
"""

from __future__ import annotations

import enum


class Refusal(enum.Enum):
    """What the service refused, and why (the value is a stable name for logs)."""

    # on an error answer (4xx; a 429 is an OqsRateLimited)
    NO_CLIENT_CERTIFICATE = "no-client-certificate"
    NONCE_UNUSABLE = "nonce-unusable"
    SIGNATURE_REFUSED = "signature-refused"
    CERTIFICATE_REFUSED = "certificate-refused"
    STATEMENT_REFUSED = "statement-refused"
    MALFORMED_REQUEST = "malformed-request"
    NO_SUCH_QUALIFICATION = "no-such-qualification"
    NO_CONSENT = "no-consent"
    TOO_MANY_NONCES = "too-many-nonces"
    NO_SUCH_ENDPOINT = "no-such-endpoint"
    TOO_LARGE = "too-large"
    TOO_SLOW = "too-slow"
    TOO_MANY_CONNECTIONS = "too-many-connections"
    NO_SUCH_BULK = "no-such-bulk"
    NO_SUCH_OFFER = "no-such-offer"
    CONSENT_EXPIRED = "consent-expired"
    NOT_OPEN_TO_PROOF = "not-open-to-proof"
    TOO_MANY_LOOKUPS = "too-many-lookups"
    TOO_MANY_BULK_JOBS = "too-many-bulk-jobs"
    TOO_MANY_BIRTH_DATES = "too-many-birth-dates"
    # in a result the service could not confirm (ProcessingResultStatus 2)
    CERTIFICATE_REVOKED = "certificate-revoked"
    CERTIFICATE_LAPSED = "certificate-lapsed"
    NOT_REGISTERED = "not-registered"
    # a code this terminal does not know (or an answer without one)
    UNKNOWN = "unknown"


class Validity(enum.StrEnum):
    """``QualificationValidity`` (oqs.md §2): the value is the format's own code (a
    documented field of the result, not one of the service's codes)."""

    VALID = "1"
    INVALID = "2"
    INVALID_NEWER = "3"  # 無効, and a newer qualification exists
    NO_MATCH = "4"
    MULTIPLE = "5"
