"""``myna-reader`` in process, on a virtual card profile (no pcscd needed)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from reader.cli import Session, main
from reader.virtual.card import VirtualCard
from reader.virtual.hostile import T0Card
from reader.virtual.profile import CardProfile, Variant, load_profile, save_profile
from tests.support.stack import TEST_PIN, CardLeavesAfter, SharedReader

PIN_HEX = TEST_PIN.encode().hex().upper()


@pytest.fixture
def profile_path(physical_profile: CardProfile, tmp_path: Path) -> Path:
    path = tmp_path / "card.json"
    save_profile(physical_profile, path)
    return path


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    try:
        code = main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_auth_test_success(
    profile_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(
        capsys,
        monkeypatch,
        ["auth-test", "--virtual", str(profile_path), "--pin-stdin", "--extended", "--json"],
        TEST_PIN + "\n",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["ok"] and result["signature_valid"]
    assert result["apdus"] == 6
    assert result["pin_tries_left"] == 3
    assert result["token_kind"] == "physical_card"
    assert "3 tries left" in err  # shown before the attempt
    assert TEST_PIN not in out + err


def test_auth_test_text_and_trace(
    profile_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(
        capsys,
        monkeypatch,
        ["auth-test", "--virtual", str(profile_path), "--pin-stdin", "--trace"],
        TEST_PIN + "\n",
    )
    assert code == 0
    assert "signature:   VALID" in out and "result:      OK" in out
    assert "> 0020009804 [4 bytes redacted]" in err
    assert "> 00A4040C0AD392F000260100000001" in err
    assert "< 9000" in err
    assert PIN_HEX not in err.upper() and PIN_HEX not in out.upper()


def test_wrong_pins_then_blocked(
    profile_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["auth-test", "--virtual", str(profile_path), "--pin-stdin"]
    code, _, err = run(capsys, monkeypatch, args, "0000\n")
    assert code == 5 and "wrong PIN: 2 tries left" in err
    code, _, err = run(capsys, monkeypatch, args, "0000\n")
    assert code == 5 and "残り2回" in err and "wrong PIN: 1 try left" in err
    code, _, err = run(capsys, monkeypatch, args, "0000\n")
    assert code == 6 and "BLOCKED" in err and "municipal office" in err
    # blocked: no prompt, nothing read from stdin, nothing sent
    code, _, err = run(capsys, monkeypatch, args, TEST_PIN + "\n")
    assert code == 6 and "暗証番号がロックされています" in err and "PIN (4 digits)" not in err
    assert load_profile(profile_path).auth_pin.tries_left == 0
    code, out, _ = run(capsys, monkeypatch, ["pin-status", "--virtual", str(profile_path)])
    assert code == 6 and "BLOCKED" in out


def test_bad_pin_input_is_refused_locally(
    profile_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["auth-test", "--virtual", str(profile_path), "--pin-stdin"]
    for bad in ("12345\n", "12a4\n", "\n"):
        code, _, err = run(capsys, monkeypatch, args, bad)
        assert code == 2 and "exactly 4 digits" in err
    code, _, err = run(capsys, monkeypatch, args, "")
    assert code == 2 and "standard input is empty" in err
    assert load_profile(profile_path).auth_pin.tries_left == 3  # nothing reached the card


def test_the_pin_is_never_an_argument(
    profile_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(
        capsys, monkeypatch, ["auth-test", "--virtual", str(profile_path), "--pin", TEST_PIN]
    )
    assert code == 2 and "unrecognized arguments" in err


def test_apdu_goes_through_the_guard(
    profile_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run(
        capsys,
        monkeypatch,
        ["apdu", "--virtual", str(profile_path), "00A4040C0AD392F000260100000001", "00B0860020"],
    )
    assert code == 0
    assert out.splitlines()[0] == "9000"
    assert out.splitlines()[1].endswith(" 9000")
    for forbidden in (
        "00A4040C0AD3921000310001010408",  # text AP
        "00A4040C05D392100031",  # a prefix of it
        "00A4040C0AD3921000310001010402",  # card-face AP
        "00B0810010",  # SFI read with the DF unknown
        "00200094 0C 313233343536373839303132",  # VERIFY 照合番号A
    ):
        code, _, err = run(capsys, monkeypatch, ["apdu", "--virtual", str(profile_path), forbidden])
        assert code == 4, forbidden
        assert "refused by the My Number guard" in err


@pytest.mark.parametrize(
    "apdus",
    [
        ["00C0000004"],  # GET RESPONSE as the first command
        ["80C0000004"],
        ["00C00000"],
        ["00A4040C0AD392F000260100000001", "00C0000004"],  # after a 9000
        ["00A4040C0AD392F000260100000001", "00B0860020", "80C0000010"],  # after data, 9000
    ],
)
def test_apdu_refuses_get_response(
    profile_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    apdus: list[str],
) -> None:
    """GET RESPONSE by hand is never the rest of an answer of ours (the channel fetches
    those itself): it could fetch another program's answer (issue 19)."""
    code, _, err = run(capsys, monkeypatch, ["apdu", "--virtual", str(profile_path), *apdus])
    assert code == 4, err
    assert "refused by the My Number guard" in err
    assert "GET RESPONSE refused: it is sent only" in err


def test_apdu_rejects_garbage(
    profile_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for bad, why in (("00A4zz", "not hexadecimal"), ("00A40", "odd number"), ("00A4", "4 bytes")):
        code, _, err = run(capsys, monkeypatch, ["apdu", "--virtual", str(profile_path), bad])
        assert code == 2 and why in err


def test_probe_and_cert(
    profile_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, _ = run(capsys, monkeypatch, ["probe", "--virtual", str(profile_path), "--json"])
    info = json.loads(out)
    assert code == 0 and info["jpki"] and info["token_label"] == "JPKIAPICCTOKEN2"
    assert info["atr"] == "3B888001000041E0B381A1003B" and info["pin_tries_left"] == 3
    code, out, _ = run(capsys, monkeypatch, ["cert", "--virtual", str(profile_path)])
    cert = x509.load_pem_x509_certificate(out.encode())
    assert cert == load_profile(profile_path).certificate()
    der = tmp_path / "ca.der"
    code, _, err = run(
        capsys,
        monkeypatch,
        ["cert", "--virtual", str(profile_path), "--ca", "--format", "der", "--out", str(der)],
    )
    assert code == 0 and "wrote" in err
    assert (
        x509.load_der_x509_certificate(der.read_bytes())
        == load_profile(profile_path).ca_certificate()
    )
    code, out, _ = run(
        capsys, monkeypatch, ["cert", "--virtual", str(profile_path), "--format", "text"]
    )
    assert "sha256_fingerprint:" in out and "RSA-2048" in out


def test_face_only_card(
    make_profile: Callable[..., CardProfile],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "face.json"
    save_profile(make_profile(Variant.FACE_ONLY), path)
    code, out, _ = run(capsys, monkeypatch, ["pin-status", "--virtual", str(path)])
    assert code == 7 and "not set" in out
    code, _, err = run(capsys, monkeypatch, ["auth-test", "--virtual", str(path), "--pin-stdin"])
    assert code == 7 and "face recognition" in err


def test_android_cert_needs_pin(
    make_profile: Callable[..., CardProfile],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "android.json"
    save_profile(make_profile(Variant.ANDROID), path)
    code, _, err = run(capsys, monkeypatch, ["cert", "--virtual", str(path)])
    assert code == 1 and "only after the PIN" in err
    code, out, _ = run(
        capsys, monkeypatch, ["auth-test", "--virtual", str(path), "--pin-stdin"], TEST_PIN
    )
    assert code == 0 and "Android" in out


def test_bad_profile_and_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run(capsys, monkeypatch, ["probe", "--virtual", str(tmp_path / "none.json")])
    assert code == 2 and "no such profile file" in err
    code, _, err = run(
        capsys, monkeypatch, ["probe", "--virtual", "x.json", "--reader", "Virtual PCD"]
    )
    assert code == 2 and "exclude each other" in err
    code, out, _ = run(
        capsys, monkeypatch, ["probe", "--virtual", str(tmp_path / "none.json"), "--json"]
    )
    assert json.loads(out)["ok"] is False


PULLED = {
    "probe": ["probe"],
    "cert": ["cert", "--format", "text"],
    "cert --ca --extended": ["cert", "--ca", "--format", "text", "--extended"],
    "pin-status": ["pin-status"],
    "auth-test": ["auth-test", "--pin-stdin"],
    "auth-test --extended": ["auth-test", "--pin-stdin", "--extended"],
    "apdu": ["apdu", "00A4040C0AD392F000260100000001", "00B0860020", "00B08A0004"],
}


@pytest.mark.parametrize("command", PULLED)
def test_a_card_pulled_at_any_apdu_exits_3(
    profile_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    """Issue 19: ``auth-test`` exited 1 ("error") when the card was pulled; 3 is "the
    card or the reader left mid-way". Every command, the card leaving at every APDU."""
    after = 0
    while True:
        transport = CardLeavesAfter(VirtualCard(load_profile(profile_path)), after)
        monkeypatch.setattr(Session, "_open", staticmethod(lambda _args, t=transport: t))
        args = [*PULLED[command], "--virtual", str(profile_path)]
        code, _, err = run(capsys, monkeypatch, args, TEST_PIN + "\n")
        if transport.after >= 0:  # the card stayed to the end: the whole command ran
            assert code == 0, err
            break
        assert code == 3, (after, err)
        assert "カードが取り外されました" in err, err
        after += 1
    assert after >= 2  # the card left at each of the command's APDUs


@pytest.mark.parametrize(
    "args",
    [
        ["probe"],
        ["cert", "--format", "text", "--extended"],
        ["cert", "--ca", "--format", "text"],
        ["pin-status"],
        ["auth-test", "--pin-stdin"],
        ["apdu", "00A4040C0AD392F000260100000001", "00B0860020", "00B08A0004"],
        ["apdu", "00C0000010"],
        ["apdu", "00A4040C0AD392F000260100000001", "80C0000010"],
    ],
    ids=" ".join,
)
@pytest.mark.parametrize("t0", [False, True], ids=["t1", "t0"])
def test_no_command_sends_where_we_did_not_select(
    profile_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    t0: bool,
) -> None:
    """design.md §6.1 for every myna-reader command: another program left the text AP
    selected; no APDU of ours runs in an application we did not select in the same
    transaction (GET RESPONSE by hand is refused, exit 4)."""
    card = VirtualCard(load_profile(profile_path))
    reader = SharedReader(card, T0Card(card, chunk=64) if t0 else None)
    monkeypatch.setattr(Session, "_open", staticmethod(lambda _args: reader))
    code, _, err = run(
        capsys, monkeypatch, [*args, "--virtual", str(profile_path)], TEST_PIN + "\n"
    )
    assert code == (4 if any(a[2:4] == "C0" for a in args) else 0), err
    reader.assert_clean()


def test_list_keeps_its_tab_and_filters_the_reader_name(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reader name, a tab, the state: the tab is ours; a name with controls (a driver's,
    any characters) is shown harmless and cannot add a column."""
    from reader.pcsc import ReaderStatus

    readers = [
        ReaderStatus("Evil\x1b[31m Reader\t00 00", True, bytes.fromhex("3BE000FF8131FE4514")),
        ReaderStatus("Plain Reader 00 01", False, b""),
    ]
    monkeypatch.setattr("reader.pcsc.list_readers", lambda: readers)
    code, out, err = run(capsys, monkeypatch, ["list"])
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows == [
        ["Evil\u241b[31m Reader\u240900 00", "card 3BE000FF8131FE4514"],
        ["Plain Reader 00 01", "no card"],
    ]
