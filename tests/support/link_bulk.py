"""一括照会 requests as clinic software writes them, for the link's tests (the same as
tests/integration/test_link.py's own: test modules do not import one another)."""

from __future__ import annotations

from mock_oqs.world import World
from tests.support.link import persona_request


def bulk_upload(world: World, personas: list[str]) -> bytes:
    """OQSmuquc01req: one QualificationConfirmSearchInfo per booked patient."""
    infos = b""
    for persona in personas:
        single = persona_request(world, persona)
        infos += single[
            single.index(b"<QualificationConfirmSearchInfo>") : single.index(b"</MessageBody>")
        ]
    head = persona_request(world, personas[0])
    start = head[: head.index(b"<QualificationConfirmSearchInfo>")]
    return start + infos + b"</MessageBody></XmlMsg>"


def bulk_fetch(number: str) -> bytes:
    """OQSmuquc02req: the MedicalInstitutionCode and the ReceptionNumber only."""
    return (
        "<XmlMsg><MessageHeader><MedicalInstitutionCode>1312345678</MedicalInstitutionCode>"
        f"</MessageHeader><MessageBody><ReceptionNumber>{number}</ReceptionNumber>"
        "</MessageBody></XmlMsg>"
    ).encode()
