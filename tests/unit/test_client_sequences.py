"""Public clients' APDU sequences (tests/support/client_sequences.py) against the card in
process: it answers what a real card answers (issue 20)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography import x509

from reader.virtual.card import Honeypot, VirtualCard
from reader.virtual.profile import CardProfile
from tests.support.client_sequences import (
    MYNA_PIN_STATUS,
    MYNA_PIN_STATUS_TOUCHES,
    PYJPKI_SIGN_DATA_ANSWERS,
    myna_jpki_cert,
    pyjpki_sign_data,
    run,
)
from tests.support.stack import TEST_PIN


def test_myna_pin_status(physical_profile: CardProfile) -> None:
    """Before issue 20: the text PIN answered 63CA (10 tries, one shared counter) and
    SELECT of 照合番号B (text AP 0015, card-face AP 0012) 6A82 — the command failed."""
    card = VirtualCard(physical_profile, honeypot=Honeypot(deliberate=True))
    replies = [(command, *run(card.process, command)) for command, _ in MYNA_PIN_STATUS]
    assert [(command, sw) for command, _, sw in replies] == MYNA_PIN_STATUS
    token = next(data for command, data, _ in replies if command == "00B0000020")
    assert token.rstrip(b" ") == b"JPKIAPICCTOKEN2"  # 32 bytes: the label, padded
    touched = [
        (a.application, a.operation)
        for a in card.honeypot.accesses
        if not a.operation.startswith("command ")
    ]
    assert touched == MYNA_PIN_STATUS_TOUCHES


@pytest.mark.parametrize("which", ["auth", "authca", "signca"])
def test_myna_jpki_cert(card: VirtualCard, which: str) -> None:
    """signca (EF 0002) answered 6A82 before issue 20."""
    der, sent = myna_jpki_cert(card.process, which)
    assert [sw for _, sw in sent] == [0x9000] * len(sent)
    expected = {
        "auth": card.profile.certificate(),
        "authca": card.profile.ca_certificate(),
        "signca": card.profile.sign_ca_certificate(),
    }[which]
    assert x509.load_der_x509_certificate(der) == expected
    # 7 bytes, then the rest in reads of 256 (Le 00) and the exact remainder
    reads = [command for command, _ in sent[4:]]
    assert reads[0] == "00B0000007" and reads[1] == "00B0000700"
    assert all(command.endswith("00") for command in reads[1:-1])
    assert card.honeypot.empty


def test_pyjpki_sign_data_after_its_own_reselect_is_refused(
    make_profile: Callable[..., CardProfile],
) -> None:
    card = VirtualCard(make_profile())
    commands = pyjpki_sign_data(TEST_PIN, b"pyjpki signs this")
    answers = [run(card.process, command)[1] for command in commands]
    assert answers == PYJPKI_SIGN_DATA_ANSWERS
    assert card.profile.auth_pin.tries_left == 3  # the PIN was right: no try spent
    assert card.honeypot.empty
