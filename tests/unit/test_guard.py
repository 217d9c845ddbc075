"""The My Number guard: every form card.md §8 forbids is refused before transmission."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reader.aids import CARD_FACE_AID, COMMON_AID, EF_TEXT_MY_NUMBER, JPKI_AID, JUKI_AID, TEXT_AID
from reader.apdu import CommandApdu, ResponseApdu
from reader.errors import ForbiddenCommand, TransactionRefused
from reader.guard import MAX_GET_RESPONSES, MAX_RESPONSE_BYTES, CurrentDf, Guard
from reader.jpki import JpkiClient
from reader.pin import Pin
from reader.transport import CardChannel
from reader.virtual.card import Honeypot, VirtualCard
from reader.virtual.hostile import T0Card
from reader.virtual.loopback import LoopbackTransport
from reader.virtual.profile import CardProfile
from tests.support.stack import TEST_PIN, SharedReader

OK = ResponseApdu(b"", 0x9000)


def select_aid(aid: bytes) -> CommandApdu:
    return CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid)


def select_ef(fid: int) -> CommandApdu:
    return CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big"))


def in_jpki() -> Guard:
    g = Guard()
    g.observe(select_aid(JPKI_AID), OK)
    assert g.current_df is CurrentDf.JPKI
    return g


@pytest.mark.parametrize("length", range(1, len(TEXT_AID) + 1))
def test_text_ap_by_every_prefix_is_refused(length: int) -> None:
    with pytest.raises(ForbiddenCommand, match="text AP"):
        in_jpki().check(select_aid(TEXT_AID[:length]))


def test_text_ap_full_aid_and_longer_names_are_refused() -> None:
    for name in (TEXT_AID, TEXT_AID + b"\x00", TEXT_AID + b"\x01\x02"):
        with pytest.raises(ForbiddenCommand, match="never touch"):
            Guard().check(select_aid(name))


def test_empty_aid_is_refused() -> None:
    with pytest.raises(ForbiddenCommand, match="empty AID"):
        Guard().check(select_aid(b""))


@pytest.mark.parametrize("aid", [JUKI_AID, COMMON_AID, CARD_FACE_AID])
def test_other_forbidden_applications(aid: bytes) -> None:
    with pytest.raises(ForbiddenCommand):
        Guard().check(select_aid(aid))
    with pytest.raises(ForbiddenCommand):
        Guard().check(select_aid(aid[:7]))


def test_jpki_aid_is_allowed_but_not_its_ambiguous_prefix() -> None:
    Guard().check(select_aid(JPKI_AID))
    Guard().check(select_aid(JPKI_AID[:3]))  # D392F0: only the JPKI AP starts with it
    with pytest.raises(ForbiddenCommand):
        Guard().check(select_aid(JPKI_AID[:2]))  # D392: also the text AP


@pytest.mark.parametrize("p1", [0x01, 0x03, 0x08, 0x09])
def test_selection_by_file_id_or_path_is_refused(p1: int) -> None:
    with pytest.raises(ForbiddenCommand, match="file id or path"):
        in_jpki().check(CommandApdu(0x00, 0xA4, p1, 0x0C, b"\x3f\x00\x00\x01"))


def test_select_mf_is_allowed_but_leaves_nothing_readable() -> None:
    g = in_jpki()
    g.check(CommandApdu(0x00, 0xA4, 0x00, 0x0C, b"\x3f\x00"))
    g.observe(CommandApdu(0x00, 0xA4, 0x00, 0x0C, b"\x3f\x00"), OK)
    with pytest.raises(ForbiddenCommand):
        g.check(select_ef(0x0001))
    with pytest.raises(ForbiddenCommand, match="SFI reads are allowed only inside the JPKI"):
        g.check(CommandApdu(0x00, 0xB0, 0x81, 0x00, le=16))


def test_new_connection_allows_only_select_by_aid() -> None:
    g = Guard()  # the card may be anywhere: another process may have left the text AP current
    for apdu in (
        select_ef(0x0001),
        CommandApdu(0x00, 0xB0, 0x00, 0x00, le=16),
        CommandApdu(0x00, 0xB0, 0x81, 0x00, le=16),
        CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"),
        CommandApdu(0x00, 0x20, 0x00, 0x98),
        CommandApdu(0x80, 0x2A, 0x00, 0x97, b"\x00", le=256),
    ):
        with pytest.raises(ForbiddenCommand):
            g.check(apdu)


@pytest.mark.parametrize("p1", [0x81, 0x83, 0x85, 0x8A, 0x94])
def test_sfi_reads_outside_jpki_are_refused(p1: int) -> None:
    g = Guard()
    g.observe(select_aid(JPKI_AID[:3]), OK)  # some other DF, by a partial name
    assert g.current_df is CurrentDf.OTHER
    with pytest.raises(ForbiddenCommand, match="SFI"):
        g.check(CommandApdu(0x00, 0xB0, p1, 0x00, le=16))


@pytest.mark.parametrize("p2", [0x91, 0x93, 0x94, 0x81, 0x8A, 0x00, 0x01])
def test_verify_only_against_jpki_pins(p2: int) -> None:
    with pytest.raises(ForbiddenCommand, match="VERIFY"):
        in_jpki().check(CommandApdu(0x00, 0x20, 0x00, p2, b"123456789012"))


def test_verify_current_ef_must_be_a_pin_file() -> None:
    g = in_jpki()
    g.observe(select_ef(0x0014), OK)
    with pytest.raises(ForbiddenCommand, match="not one of the JPKI PINs"):
        g.check(CommandApdu(0x00, 0x20, 0x00, 0x80, b"123456789012"))
    g.observe(select_ef(0x0018), OK)
    g.check(CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"))
    g.check(CommandApdu(0x00, 0x20, 0x00, 0x98))
    g.check(CommandApdu(0x00, 0x20, 0x00, 0x9B))


@pytest.mark.parametrize("ins", [0xB1, 0xB2, 0xCA, 0xCB, 0x88, 0x84, 0xD6, 0x24, 0x2C, 0x22])
def test_instructions_outside_the_allow_list(ins: int) -> None:
    with pytest.raises(ForbiddenCommand, match="instruction"):
        in_jpki().check(CommandApdu(0x00, ins, 0x00, 0x05, le=16))


@pytest.mark.parametrize("cla", [0x0C, 0x10, 0x01, 0x84, 0xFF])
def test_other_classes_are_refused(cla: int) -> None:
    with pytest.raises(ForbiddenCommand, match="CLA"):
        in_jpki().check(CommandApdu(cla, 0xB0, 0x00, 0x00, le=16))


def test_face_access_allows_only_the_face_object() -> None:
    g = Guard(face_access=True)
    g.check(select_aid(CARD_FACE_AID))
    g.observe(select_aid(CARD_FACE_AID), OK)
    assert g.current_df is CurrentDf.CARD_FACE
    for forbidden in (
        select_ef(0x0005),
        select_ef(0x0013),
        select_ef(0x0012),  # 照合番号B of the card-face AP
        CommandApdu(0x00, 0xB0, 0x85, 0x00, le=16),
        CommandApdu(0x00, 0x20, 0x00, 0x93, b"123456789012"),
        CommandApdu(0x00, 0x20, 0x00, 0x92, b"55021720352285"),
        CommandApdu(0x00, 0x20, 0x00, 0x80),
        CommandApdu(0x00, 0xB0, 0x00, 0x00, le=16),  # no EF selected yet
    ):
        with pytest.raises(ForbiddenCommand):
            g.check(forbidden)
    g.check(select_ef(0x0002))
    g.observe(select_ef(0x0002), OK)
    g.check(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256))
    with pytest.raises(ForbiddenCommand):
        g.check(select_aid(TEXT_AID))  # face access never opens the text AP


def test_failed_select_makes_the_state_unknown() -> None:
    g = in_jpki()
    g.observe(select_aid(JPKI_AID), ResponseApdu(b"", 0x6A82))
    assert g.current_df is CurrentDf.UNKNOWN
    with pytest.raises(ForbiddenCommand):
        g.check(CommandApdu(0x00, 0xB0, 0x8A, 0x00, le=4))


def test_refused_commands_never_reach_the_card(card: VirtualCard) -> None:
    transport = LoopbackTransport(card)
    channel = CardChannel(transport)
    for apdu in (select_aid(TEXT_AID), select_aid(TEXT_AID[:5]), select_aid(CARD_FACE_AID)):
        with pytest.raises(ForbiddenCommand):
            channel.transmit(apdu)
    assert card.apdu_count == 0
    assert channel.stats.apdus == 0


def test_honeypot_records_when_the_guard_is_skipped(physical_profile: CardProfile) -> None:
    """The honeypot itself works: talking to the card directly (no guard) is recorded."""
    pot = Honeypot(deliberate=True)
    card = VirtualCard(physical_profile, honeypot=pot)
    card.process(select_aid(TEXT_AID[:5]).to_bytes())
    card.process(select_ef(0x0001).to_bytes())
    card.process(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=16).to_bytes())
    card.process(select_aid(CARD_FACE_AID).to_bytes())
    card.process(CommandApdu(0x00, 0xB0, 0x85, 0x00, le=16).to_bytes())
    card.process(CommandApdu(0x00, 0x20, 0x00, 0x93, b"1").to_bytes())
    ops = [a.operation for a in pot.accesses]
    assert ops[0].startswith("SELECT by AID D392100031")
    assert any("READ BINARY EF 0001" in o for o in ops)
    assert any("EF 0005" in o for o in ops)
    assert any("VERIFY EF 0013" in o for o in ops)


# --- property: whatever is sent through the channel, the honeypot stays empty --------------

_interesting_aids = st.sampled_from(
    [JPKI_AID, TEXT_AID, CARD_FACE_AID, JUKI_AID, COMMON_AID, b"\xd3\x92", b"\xd3"]
).flatmap(lambda aid: st.integers(0, len(aid)).map(lambda n: aid[: max(n, 1)]))

_commands = st.one_of(
    _interesting_aids.map(select_aid),
    st.integers(0, 0x20).map(select_ef),
    st.builds(
        lambda p1, p2, le: CommandApdu(0x00, 0xB0, p1, p2, le=le),
        st.integers(0, 0xFF),
        st.integers(0, 0xFF),
        st.integers(1, 256),
    ),
    st.builds(
        lambda p2, data: CommandApdu(0x00, 0x20, 0x00, p2, data),
        st.integers(0, 0xFF),
        st.binary(max_size=12),
    ),
    st.builds(
        lambda cla, ins, p1, p2, data: CommandApdu(cla, ins, p1, p2, data),
        st.integers(0, 0xFF),
        st.integers(0, 0xFF),
        st.integers(0, 0xFF),
        st.integers(0, 0xFF),
        st.binary(max_size=8),
    ),
    # GET RESPONSE: the command the attack of issue 19 sent into the text AP
    st.builds(
        lambda cla, p1p2, le: CommandApdu(cla, 0xC0, p1p2, p1p2, le=le),
        st.sampled_from([0x00, 0x80]),
        st.sampled_from([0x00, 0x00, 0x01]),
        st.one_of(st.none(), st.integers(1, 256)),
    ),
)


# Between two of our transactions another program on the reader may select any
# application (SharedReader: the text AP, as in the attack of issue 9, before our first
# transaction and after each) and send commands there (a READ BINARY of the 個人番号,
# whose answer a T=0 card keeps for GET RESPONSE); and our commands may come inside a
# transaction or outside one.
_BOUNDARY = "end our transaction (the other program selects the text AP), begin another"
_OTHER_READS = "the other program reads EF 0001 of the text AP, too"
_OUTSIDE = "outside any transaction"
_steps = st.one_of(_commands, st.sampled_from([_BOUNDARY, _OTHER_READS, _OUTSIDE]))
OTHERS_SELECT = f"SELECT by AID {TEXT_AID.hex().upper()}"
OTHERS_READ = CommandApdu(0x00, 0xB0, 0x80 | EF_TEXT_MY_NUMBER, 0x00, le=0x10)


def ours(pot: Honeypot) -> list[str]:
    """The number accesses the honeypot saw, less the other program's own SELECTs (the
    guard never sends the text AP's AID, so those cannot be ours)."""
    return [a.operation for a in pot.accesses if a.operation != OTHERS_SELECT]


@settings(
    max_examples=500,
    deadline=None,  # correctness only: a shared, loaded machine says nothing of speed
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(_steps, max_size=16), st.booleans(), st.booleans())
def test_no_sequence_of_commands_reaches_the_number(
    physical_profile: CardProfile, steps: list[CommandApdu | str], face_access: bool, t0: bool
) -> None:
    """Random commands (GET RESPONSE among them), transaction boundaries and another
    program's commands in between: no command of ours goes into an application we did
    not select in the same transaction, and none reaches a number-bearing object — also
    on a card that answers as T=0 cards do (61xx, the data by GET RESPONSE)."""
    virtual = VirtualCard(physical_profile.model_copy(deep=True))
    reader = SharedReader(virtual, T0Card(virtual, chunk=64) if t0 else virtual)
    channel = CardChannel(reader, guard=Guard(face_access=face_access))
    with contextlib.ExitStack() as stack:
        stack.enter_context(channel.transaction())
        for step in steps:
            if step == _BOUNDARY:  # the other program selects the text AP in between
                stack.close()
                stack.enter_context(channel.transaction())
            elif step == _OTHER_READS:
                # only possible between our transactions: a real one keeps others out
                stack.close()
                reader.other(OTHERS_READ)
                stack.enter_context(channel.transaction())
            elif step == _OUTSIDE:
                stack.close()
            elif isinstance(step, CommandApdu):
                with contextlib.suppress(ForbiddenCommand):
                    channel.transmit(step)
    reader.assert_clean()


# --- transactions: the guard's view holds only while nobody else can move the card ------

SFI_READ_EF1 = CommandApdu(0x00, 0xB0, 0x81, 0x00, le=0x10)  # the attack's read
SFI_READ_CERT = CommandApdu(0x00, 0xB0, 0x8A, 0x00, le=4)  # the auth certificate's header


def where(channel: CardChannel) -> CurrentDf:
    return channel.guard.current_df


def test_outside_a_transaction_only_select_by_aid_is_sent(card: VirtualCard) -> None:
    """The reproduction of issue 9: SELECT JPKI, then an SFI read, with no transaction —
    another program could select the text AP in between, so the read never leaves."""
    channel = CardChannel(LoopbackTransport(card))
    assert channel.transmit(select_aid(JPKI_AID)).sw == 0x9000
    card.process(select_aid(TEXT_AID).to_bytes())  # the other program, in between
    for apdu in (SFI_READ_EF1, CommandApdu(0x00, 0x20, 0x00, 0x80), select_ef(0x0001)):
        with pytest.raises(ForbiddenCommand, match="outside an exclusive transaction"):
            channel.transmit(apdu)
    assert card.apdu_count == 2  # our SELECT and the other program's
    assert ours(card.honeypot) == []
    card.honeypot.accesses.clear()  # the other program's SELECT is not ours to answer for


def test_the_guard_forgets_the_card_at_every_transaction_boundary(card: VirtualCard) -> None:
    channel = CardChannel(LoopbackTransport(card))
    with channel.transaction():
        channel.transmit(select_aid(JPKI_AID))
        assert channel.guard.current_df is CurrentDf.JPKI
        assert channel.transmit(CommandApdu(0x00, 0xB0, 0x86, 0x00, le=32)).sw == 0x9000
    assert where(channel) is CurrentDf.UNKNOWN
    card.process(select_aid(TEXT_AID).to_bytes())  # the other program, between ours
    with channel.transaction():
        assert where(channel) is CurrentDf.UNKNOWN
        with pytest.raises(ForbiddenCommand, match="current DF is unknown"):
            channel.transmit(SFI_READ_EF1)  # JPKI was selected in the *previous* transaction
        with pytest.raises(ForbiddenCommand, match="VERIFY refused"):
            channel.transmit(CommandApdu(0x00, 0x20, 0x00, 0x80))
        channel.transmit(select_aid(JPKI_AID))
        assert channel.transmit(SFI_READ_CERT).sw == 0x9000
    assert ours(card.honeypot) == []
    card.honeypot.accesses.clear()


def test_nested_transactions_keep_what_the_outer_one_learnt(card: VirtualCard) -> None:
    channel = CardChannel(LoopbackTransport(card))
    with channel.transaction():
        channel.transmit(select_aid(JPKI_AID))
        with channel.transaction():
            assert channel.transmit(SFI_READ_CERT).sw == 0x9000
        assert where(channel) is CurrentDf.JPKI
    assert where(channel) is CurrentDf.UNKNOWN


class NoTransactions(LoopbackTransport):
    """A reader (or driver) that cannot lock the card for one client."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        raise TransactionRefused("this reader refused an exclusive transaction")
        yield


def test_a_reader_refusing_transactions_gets_nothing_but_select_by_aid(
    card: VirtualCard,
) -> None:
    channel = CardChannel(NoTransactions(card))
    client = JpkiClient(channel)
    with channel.transaction():
        assert not channel.exclusive
        client.select()  # SELECT by AID still goes: it reaches no file
        with pytest.raises(ForbiddenCommand, match="refused the transaction"):
            client.token_info()
    with pytest.raises(ForbiddenCommand, match="refused the transaction"):
        client.authenticate(Pin(TEST_PIN), b"x")
    assert card.profile.auth_pin.tries_left == 3
    assert card.apdu_count == 2


# --- GET RESPONSE: only the rest of our own command's answer (issue 19) ---------------------

GET_RESPONSES = [
    CommandApdu(0x00, 0xC0, 0x00, 0x00, le=4),
    CommandApdu(0x80, 0xC0, 0x00, 0x00, le=4),
    CommandApdu(0x00, 0xC0, 0x00, 0x00, le=256),
    CommandApdu(0x00, 0xC0, 0x00, 0x00),
]
MORE = ResponseApdu(b"", 0x6110)  # "16 more bytes: fetch them with GET RESPONSE"
READ_CERT = CommandApdu(0x00, 0xB0, 0x8A, 0x00, le=0x10)


def with_pending_answer() -> Guard:
    """Inside the JPKI AP, our READ BINARY answered 61xx."""
    g = in_jpki()
    g.check(READ_CERT)
    g.observe(READ_CERT, MORE)
    return g


@pytest.mark.parametrize("get_response", GET_RESPONSES, ids=str)
def test_get_response_is_refused_with_nothing_of_ours_pending(get_response: CommandApdu) -> None:
    """As the first command of a transaction (the guard knows nothing: the card may hold
    another program's answer) and right after a 9000, in every class and form."""
    with pytest.raises(ForbiddenCommand, match="GET RESPONSE refused: it is sent only"):
        Guard().check(get_response)
    g = in_jpki()  # SELECT of the JPKI AP answered 9000
    with pytest.raises(ForbiddenCommand, match="GET RESPONSE refused"):
        g.check(get_response)
    g.check(READ_CERT)
    g.observe(READ_CERT, ResponseApdu(b"\x30\x82\x05\x00", 0x9000))
    with pytest.raises(ForbiddenCommand, match="GET RESPONSE refused"):
        g.check(get_response)


@pytest.mark.parametrize("get_response", GET_RESPONSES, ids=str)
def test_get_response_fetches_only_our_own_pending_answer(get_response: CommandApdu) -> None:
    g = with_pending_answer()
    g.check(get_response)
    g.observe(get_response, ResponseApdu(b"\x00" * 16, 0x6110))  # still more
    g.check(get_response)
    g.observe(get_response, ResponseApdu(b"\x00" * 16, 0x9000))  # the end of our answer
    with pytest.raises(ForbiddenCommand, match="GET RESPONSE refused"):
        g.check(get_response)


@pytest.mark.parametrize("get_response", GET_RESPONSES, ids=str)
def test_a_transaction_boundary_ends_our_claim_on_the_answer(get_response: CommandApdu) -> None:
    """Between two transactions another program may send a command (a READ BINARY of the
    個人番号) answered 61xx: what the card then holds is its answer, not ours."""
    g = with_pending_answer()
    g.reset()  # what CardChannel does at every transaction boundary
    with pytest.raises(ForbiddenCommand, match="GET RESPONSE refused"):
        g.check(get_response)


@pytest.mark.parametrize(
    "refused",
    [select_aid(TEXT_AID), CommandApdu(0x0C, 0xB0, 0, 0, le=4), CommandApdu(0x00, 0xCA, 0, 0)],
    ids=str,
)
def test_get_response_after_a_refused_command_is_refused(refused: CommandApdu) -> None:
    g = with_pending_answer()
    with pytest.raises(ForbiddenCommand):
        g.check(refused)
    with pytest.raises(ForbiddenCommand, match="GET RESPONSE refused"):
        g.check(GET_RESPONSES[0])


def test_get_response_with_parameters_or_data_is_refused() -> None:
    for odd in (
        CommandApdu(0x00, 0xC0, 0x01, 0x00, le=4),
        CommandApdu(0x00, 0xC0, 0x00, 0x02, le=4),
        CommandApdu(0x00, 0xC0, 0x00, 0x00, b"\x01", le=4),
    ):
        with pytest.raises(ForbiddenCommand, match="P1-P2 must be 0000"):
            with_pending_answer().check(odd)


def test_get_response_is_bounded_by_count_and_by_bytes() -> None:
    g = with_pending_answer()
    for _ in range(MAX_GET_RESPONSES):
        g.check(GET_RESPONSES[0])
        g.observe(GET_RESPONSES[0], ResponseApdu(b"", 0x6100))
    assert g.answer_too_long
    with pytest.raises(ForbiddenCommand, match="more than a genuine card"):
        g.check(GET_RESPONSES[0])
    g = with_pending_answer()
    g.check(GET_RESPONSES[0])
    g.observe(GET_RESPONSES[0], ResponseApdu(b"\xa5" * MAX_RESPONSE_BYTES, 0x6100))
    with pytest.raises(ForbiddenCommand, match="more than a genuine card"):
        g.check(GET_RESPONSES[0])


class RecordingGuard(Guard):
    """A guard that remembers every command it was asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.checked: list[CommandApdu] = []

    def check(self, apdu: CommandApdu) -> None:
        self.checked.append(apdu)
        super().check(apdu)


class CountingCard(T0Card):
    """A T=0 card that counts the GET RESPONSEs it received."""

    def __init__(self, card: VirtualCard, chunk: int) -> None:
        super().__init__(card, chunk)
        self.get_responses = 0

    def process(self, apdu: bytes) -> bytes:
        self.get_responses += apdu[1:2] == b"\xc0"
        return super().process(apdu)


@pytest.mark.parametrize("chunk", [256, 100, 7])
def test_the_channel_fetches_a_t0_answer_through_the_guard(
    physical_profile: CardProfile, chunk: int
) -> None:
    """A genuine card answering as T=0 cards do: the channel's automatic GET RESPONSEs
    each pass the guard (none is sent around it) and put the answer together."""
    virtual = VirtualCard(physical_profile)
    card = CountingCard(virtual, chunk)
    guard = RecordingGuard()
    client = JpkiClient(CardChannel(LoopbackTransport(card), guard=guard))
    auth = client.authenticate(Pin(TEST_PIN), b"challenge")
    assert auth.certificate_der == physical_profile.certificate().public_bytes(Encoding.DER)
    key = physical_profile.certificate().public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(auth.signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())
    checked = [c for c in guard.checked if c.ins == 0xC0]
    assert card.get_responses == len(checked) >= 2  # each one passed the guard first
    assert virtual.honeypot.empty


def test_get_response_never_reaches_another_programs_answer(physical_profile: CardProfile) -> None:
    """Another program reads a file between our transactions and the card keeps its
    answer for GET RESPONSE (61xx): our GET RESPONSE as the first command of the next
    transaction is refused before it is sent, in both classes; so it is after our own
    9000 in that transaction."""
    virtual = VirtualCard(physical_profile)
    card = CountingCard(virtual, 256)
    channel = CardChannel(LoopbackTransport(card))
    with channel.transaction():
        JpkiClient(channel).select()
    assert card.process(READ_CERT.to_bytes()) == b"\x61\x10"  # the other program's answer
    for get_response in GET_RESPONSES:
        with channel.transaction(), pytest.raises(ForbiddenCommand, match="GET RESPONSE"):
            channel.transmit(get_response)
        with channel.transaction():
            channel.transmit(select_aid(JPKI_AID))
            with pytest.raises(ForbiddenCommand, match="GET RESPONSE"):
                channel.transmit(get_response)
    assert card.get_responses == 0


def test_get_response_into_the_text_ap_left_by_another_program(card: VirtualCard) -> None:
    """The attack of issue 19: another program left the text AP selected; our GET
    RESPONSE, CLA 00 or 80, as the first command of a transaction, never leaves."""
    card.process(select_aid(TEXT_AID).to_bytes())  # the other program
    card.honeypot.accesses.clear()  # its SELECT is its business
    channel = CardChannel(LoopbackTransport(card))
    for get_response in GET_RESPONSES:
        with channel.transaction(), pytest.raises(ForbiddenCommand, match="GET RESPONSE"):
            channel.transmit(get_response)
    assert card.apdu_count == 1  # the other program's SELECT only
    assert card.honeypot.empty
