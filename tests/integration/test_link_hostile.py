"""The shared folder is hostile (design.md §6.8): whoever writes req/, res/ or face/ — another
machine, another program — plants symlinks, FIFOs, directories, names that are not UTF-8,
files that are deep or wide, and a second link. A real `reception link` process answers
every one once, or refuses it in its log once, and never writes through a symlink."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mock_oqs.world import World
from reception.shared_folder import fit_name
from tests.support.link import Running, answer, answer_path, drop, old, persona_request


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.02)


def refused_at_start(running: Running) -> tuple[int, str]:
    """The exit code and stderr of a link that must not start."""
    proc = running.launch()
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:  # it started after all: stop it, then fail
        proc.kill()
        proc.communicate()
        raise AssertionError("the link started") from None
    finally:
        running.reap()
    return proc.returncode, err.decode()


# -- 1. symlinks ---------------------------------------------------------------------------


def test_a_symlink_planted_where_the_answer_is_written_overwrites_nothing(
    link: Running, tmp_path: Path
) -> None:
    """The old writer opened res/.<answer>.tmp with a plain open(): a symlink planted there
    made the answer overwrite any file the link could write (the store, /etc as root)."""
    victims = [tmp_path / "store.sqlite", tmp_path / "dotfile"]
    for victim in victims:
        victim.write_bytes(b"precious")
    res = link.folder / "res"
    os.symlink(victims[0], res / ".OQSsiquc01res_sym_0001.xml.tmp")
    os.symlink(victims[1], res / "OQSsiquc01res_sym_0001.xml")
    drop(link.folder, "OQSsiquc01req_sym_0001.xml", persona_request(link.world, "kokuho"))
    wait_for(lambda: not (link.folder / "req" / "OQSsiquc01req_sym_0001.xml").exists())
    root = answer(link.folder, "OQSsiquc01req_sym_0001.xml")
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    assert all(victim.read_bytes() == b"precious" for victim in victims)
    assert stat.S_ISREG(os.lstat(res / "OQSsiquc01res_sym_0001.xml").st_mode)  # replaced


def test_a_request_that_is_a_symlink_is_refused_never_followed(
    link: Running, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.xml"
    outside.write_bytes(persona_request(link.world, "adult-kyokai"))
    name = "OQSsiquc01req_sym_0002.xml"
    os.symlink(outside, link.folder / "req" / name)
    root = answer(link.folder, name)
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert root.findtext("MessageHeader/ErrorCode") == "LINK-E008"
    assert "シンボリックリンク" in (root.findtext("MessageHeader/ErrorMessage") or "")
    assert root.find("MessageBody/ResultList") is None  # nothing of the file it points to
    wait_for(lambda: os.path.islink(link.folder / "req" / "done" / name))  # moved, once
    assert outside.read_bytes() == persona_request(link.world, "adult-kyokai")


@pytest.mark.parametrize("planted", ["req", "res", "face", "req/done"])
def test_a_subfolder_that_is_a_symlink_keeps_the_link_from_starting(
    link_world: World, tmp_path: Path, planted: str
) -> None:
    """A req/done symlink moved every answered request into any directory; res/ or face/
    would take answers anywhere."""
    folder, elsewhere = tmp_path / "clinic", tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.mkdir()
    if planted != "req":
        (folder / "req").mkdir()
    os.symlink(elsewhere, folder / planted)
    if planted != "req":
        drop(folder, "OQSsiquc01req_pl_0001.xml", persona_request(link_world, "kokuho"))
    code, err = refused_at_start(Running(link_world, folder, tmp_path))
    assert code == 2, err
    assert f"{planted.split('/')[-1]} がシンボリックリンクです" in err
    assert "Traceback" not in err
    assert list(elsewhere.iterdir()) == []


def test_a_subfolder_swapped_for_a_symlink_later_takes_nothing(
    link: Running, tmp_path: Path
) -> None:
    """Re-checked when used: while res/ is a symlink nothing is written (said once in the
    log), and once it is a directory again the request is answered there."""
    folder, elsewhere = link.folder, tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.rename(folder / "res", folder / "res.moved")
    os.symlink(elsewhere, folder / "res")
    drop(folder, "OQSsiquc01req_swap_0001.xml", persona_request(link.world, "kokuho"))
    link.said("シンボリックリンク")
    assert list(elsewhere.iterdir()) == []
    assert (folder / "req" / "OQSsiquc01req_swap_0001.xml").exists()  # kept, not lost
    os.unlink(folder / "res")
    os.rename(folder / "res.moved", folder / "res")
    root = answer(folder, "OQSsiquc01req_swap_0001.xml")
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    assert list(elsewhere.iterdir()) == []


# -- 2. files and names that stopped or froze the link --------------------------------------


def test_a_name_that_is_not_utf8_is_answered_and_the_link_keeps_going(link: Running) -> None:
    """A Shift_JIS name from a Windows client made watchfiles raise: the link exited."""
    name = b"OQSsiquc01req_" + "受付".encode("cp932") + b"_0001.xml"
    drop(link.folder, name, persona_request(link.world, "kokuho", file_id="sjis-name"))
    root = answer(link.folder, name)
    assert root.findtext("MessageHeader/ArbitraryFileIdentifier") == "sjis-name"
    assert root.findtext("MessageHeader/SegmentOfResult") == "1"
    # the answer under the same bytes (the client finds it), shown as the client meant it
    assert os.fsencode(answer_path(link.folder, name).name) == name.replace(b"req", b"res", 1)
    link.said("OQSsiquc01res_受付_0001.xml")
    second = b"OQSsiquc01req_" + "窓口".encode("cp932") + b"_0002.xml"
    drop(link.folder, second, persona_request(link.world, "kokuho", file_id="sjis-2"))
    assert answer(link.folder, second).findtext("MessageHeader/SegmentOfResult") == "1"
    drop(link.folder, "OQSsiquc01req_after_0001.xml", persona_request(link.world, "kokuho"))
    assert answer(link.folder, "OQSsiquc01req_after_0001.xml") is not None
    # what staff read of the watcher's trouble: one Japanese sentence, once — the
    # library's own words (English, the path) go to the log only
    events = [line for line in link.lines if " error " in line and "LINK-E007" in line]
    assert len(events) <= 1, events
    assert not any("Watchfiles" in line or "decode" in line for line in events), events


def test_a_fifo_is_refused_and_sigterm_still_stops_the_link(link: Running) -> None:
    """A FIFO named *.xml wedged the link in open(); SIGTERM did not stop it. (The fixture
    stops this link with SIGTERM and expects exit 0.)"""
    name = "OQSsiquc01req_fifo_0001.xml"
    os.mkfifo(link.folder / "req" / name)
    root = answer(link.folder, name)
    assert root.findtext("MessageHeader/ErrorCode") == "LINK-E008"
    assert "FIFO" in (root.findtext("MessageHeader/ErrorMessage") or "")
    drop(link.folder, "OQSsiquc01req_fifo_0002.xml", persona_request(link.world, "kokuho"))
    assert answer(link.folder, "OQSsiquc01req_fifo_0002.xml").findtext(
        "MessageHeader/SegmentOfResult"
    ) == ("1")


LONG = "OQSsiquc01req_" + "x" * (255 - len("OQSsiquc01req_") - len(".xml")) + ".xml"
LONG_UNKNOWN = "ABC_" + "y" * (255 - 4 - 4) + ".xml"
WIDE = (  # a million siblings, just under 4 MiB
    b"<XmlMsg><MessageHeader/><MessageBody>"
    + b"<a/>" * ((4 * 1024 * 1024 - 100) // 4)
    + b"</MessageBody></XmlMsg>"
)


@pytest.mark.parametrize(
    ("name", "data", "code", "says"),
    [
        (
            "OQSsiquc01req_deep_0001.xml",
            b"<XmlMsg>" + b"<a>" * 50_000 + b"</a>" * 50_000 + b"</XmlMsg>",
            "LINK-E001",
            "入れ子が64段を超えています",
        ),
        (LONG, b"not xml", "LINK-E001", "XMLの形式が正しくありません"),
        (LONG_UNKNOWN, b"<XmlMsg/>", "LINK-E002", "この端末が答える要求ではありません"),
        ("OQSsiquc01req_dir_0001.xml", None, "LINK-E008", "ディレクトリ"),
        ("OQSsiquc01req_wide_0001.xml", WIDE, "LINK-E003", "QualificationConfirmSearchInfo"),
    ],
    ids=["50k-deep", "255-byte-name", "255-byte-unknown", "directory", "4MiB-of-siblings"],
)
def test_a_malformed_request_is_answered_once(
    link: Running, name: str, data: bytes | None, code: str, says: str
) -> None:
    """Each of these was retried every second forever (or, 4 MiB of siblings, parsed in
    quadratic time on the event loop: tens of minutes). The answer of a name without
    ``req`` is ``res_`` + the name, shortened to 255 bytes (fit_name)."""
    req = link.folder / "req"
    hidden = req / ".incoming"
    if data is None:
        hidden.mkdir()
    else:
        hidden.write_bytes(data)
    old(hidden)
    os.replace(hidden, req / name)
    answered = name.replace("req", "res", 1) if "req" in name else fit_name(f"res_{name}")
    path = link.folder / "res" / answered
    wait_for(path.exists, seconds=60)
    root = answer(link.folder, name if "req" in name else answered)
    assert root.findtext("MessageHeader/SegmentOfResult") == "9"
    assert root.findtext("MessageHeader/ErrorCode") == code
    assert says in (root.findtext("MessageHeader/ErrorMessage") or "")
    wait_for(lambda: not os.path.lexists(req / name))
    assert os.path.lexists(req / "done" / name)  # moved aside: never answered again


# -- 3. lost or duplicated requests ---------------------------------------------------------


def test_a_request_older_than_an_answer_of_its_name_is_answered(link: Running) -> None:
    """Copied files, reused sequence numbers, 2 s FAT/SMB clocks: an answer newer than the
    request used to mean "answered already", and the request was retired unanswered."""
    folder = link.folder
    (folder / "res" / "OQSsiquc01res_reuse_0001.xml").write_bytes(b"<yesterday/>")
    hidden = folder / "req" / ".reuse"
    hidden.write_bytes(persona_request(link.world, "kokuho", file_id="today"))
    old(hidden)  # a copy that kept its time: older than yesterday's answer's file
    os.replace(hidden, folder / "req" / "OQSsiquc01req_reuse_0001.xml")
    wait_for(lambda: not (folder / "req" / "OQSsiquc01req_reuse_0001.xml").exists())
    root = answer(folder, "OQSsiquc01req_reuse_0001.xml")
    assert root.findtext("MessageHeader/ArbitraryFileIdentifier") == "today"


def test_a_journal_line_written_into_the_folder_drops_no_request(
    link_world: World, tmp_path: Path
) -> None:
    """The folder's writer computed a request's key from its name, size, time and content,
    appended ``A <key> <temp>`` to DIR/.reception-link.journal, and at the link's next
    start the request was moved to req/done/ with no answer and nothing said. The link's
    record is not in the folder now: the request is answered, and staff are told once."""
    folder = tmp_path / "clinic"
    (folder / "req").mkdir(parents=True)
    name = "OQSsiquc01req_forged_0001.xml"
    drop(folder, name, persona_request(link_world, "kokuho", file_id="forged"))
    status = (folder / "req" / name).stat()
    key = hashlib.sha256(name.encode())  # the attacker's computation (tester's forge.py)
    key.update(f"\0{status.st_size}\0{status.st_mtime_ns}\0".encode())
    key.update(hashlib.sha256((folder / "req" / name).read_bytes()).digest())
    forged = f"A {key.hexdigest()[:40]} .reception-0123456789abcdef.tmp\n"
    (folder / ".reception-link.journal").write_text(forged)
    running = Running(link_world, folder, tmp_path)
    running.start()
    try:
        root = answer(folder, name)
        assert root.findtext("MessageHeader/ArbitraryFileIdentifier") == "forged"
        assert root.findtext("MessageHeader/SegmentOfResult") == "1"
        [said] = running.said(".reception-link.journal")
        assert "LINK-E009" in said
        assert not (folder / ".reception-link.journal").exists()  # nothing there to edit
    finally:
        try:
            assert running.stop() == 0
        finally:
            running.reap()


def test_a_second_link_on_the_folder_refuses_and_names_the_holder(
    link: Running, tmp_path: Path
) -> None:
    """Two links on one folder answered 230 of 320 requests twice."""
    code, err = refused_at_start(Running(link.world, link.folder, tmp_path))
    assert code == 2, err
    assert link.proc is not None and f"pid {link.proc.pid}" in err
    assert "使用中" in err
    drop(link.folder, "OQSsiquc01req_one_0001.xml", persona_request(link.world, "kokuho"))
    assert answer(link.folder, "OQSsiquc01req_one_0001.xml") is not None


def test_deleting_the_lock_file_lets_no_second_link_in(link: Running, tmp_path: Path) -> None:
    """After ``rm DIR/.reception-link.lock`` a second link started on the folder: with both
    running, 27 of 200 requests were answered twice. The folder's own directory is locked
    now; the lock file comes back, and names the holder again."""
    lock = link.folder / ".reception-link.lock"
    lock.unlink()
    code, err = refused_at_start(Running(link.world, link.folder, tmp_path))
    assert code == 2, err
    assert "使用中" in err
    wait_for(lock.exists)  # made again while the link runs
    code, err = refused_at_start(Running(link.world, link.folder, tmp_path))
    assert code == 2, err
    assert link.proc is not None and f"pid {link.proc.pid}" in err
    drop(link.folder, "OQSsiquc01req_lock_0001.xml", persona_request(link.world, "kokuho"))
    assert answer(link.folder, "OQSsiquc01req_lock_0001.xml") is not None


def test_deleting_req_does_not_stop_the_link(link: Running) -> None:
    shutil.rmtree(link.folder / "req")
    wait_for((link.folder / "req").is_dir)  # made again
    drop(link.folder, "OQSsiquc01req_again_0001.xml", persona_request(link.world, "kokuho"))
    assert answer(link.folder, "OQSsiquc01req_again_0001.xml").findtext(
        "MessageHeader/SegmentOfResult"
    ) == ("1")


# -- 4. what the link repeats of a request ------------------------------------------------

HUGE = "9" * 3_000_000


@pytest.mark.parametrize(
    ("element", "code"),
    [
        ("Birthdate", "LINK-E003"),  # repeated in the message: 'Birthdate は YYYYMMDD です'
        ("ArbitraryFileIdentifier", "LINK-E003"),  # echoed in every answer's header
        ("XmlMsg", "LINK-E001"),  # the root element's name, in the parser's message
        ("ReceptionNumber", "LINK-E003"),  # a URL too long to send: never answered
    ],
)
def test_request_text_is_repeated_only_in_part(link: Running, element: str, code: str) -> None:
    """A 3 MB <Birthdate> produced a 3 MB error answer and two 3 MB lines of log (about
    6 MB per request). Whatever a request holds, its answer, the event and the log line
    repeat a part of it at most, and say how long it was."""
    kind = "OQSmuquc02req" if element == "ReceptionNumber" else "OQSsiquc01req"
    name = f"{kind}_huge_{element}.xml"
    data = persona_request(link.world, "kokuho", file_id="huge").decode()
    if element == "Birthdate":
        data = re.sub(r"<Birthdate>\d+<", f"<Birthdate>{HUGE}<", data)
    elif element == "ArbitraryFileIdentifier":
        data = data.replace(">huge<", f">{HUGE}<")
    elif element == "XmlMsg":
        data = data.replace("XmlMsg", "X" + HUGE[: len(HUGE) // 2])  # opened and closed
    else:
        data = (
            f"<XmlMsg><MessageBody><ReceptionNumber>{HUGE}</ReceptionNumber></MessageBody></XmlMsg>"
        )
    hidden = link.folder / "req" / ".huge"
    hidden.write_text(data)
    old(hidden)
    os.replace(hidden, link.folder / "req" / name)
    root = answer(link.folder, name)  # checked against the format: an identifier ≤ 50
    assert root.findtext("MessageHeader/ErrorCode") == code
    message = root.findtext("MessageHeader/ErrorMessage") or ""
    assert "9" * 161 not in message and len(message) < 300, message[:300]
    assert re.search(r"\d{7}文字", message), message  # how long it was
    assert answer_path(link.folder, name).stat().st_size < 4096
    link.said(f"error {name}")
    assert max(len(line) for line in link.lines) < 1000


# -- 5. private files ------------------------------------------------------------------------


def test_answers_are_private_under_umask_022(link_world: World, tmp_path: Path) -> None:
    """A YZK answer holds dozens of medication records: it was 0644 under umask 022. With
    RECEPTION_LINK__GROUP (clinic software running as another user) it is 0640, that group."""
    group = next((g for g in os.getgroups() if g != os.getegid()), os.getegid())
    for env, mode, gid in (
        ({}, 0o600, None),
        ({"RECEPTION_LINK__GROUP": str(group)}, 0o640, group),
    ):
        running = Running(link_world, tmp_path / f"clinic-{mode:o}", tmp_path, **env)
        before = os.umask(0o022)
        try:
            running.start()
        finally:
            os.umask(before)
        try:
            drop(
                running.folder, "OQSsiquc01req_priv_0001.xml", persona_request(link_world, "kokuho")
            )
            answer(running.folder, "OQSsiquc01req_priv_0001.xml")
            status = os.stat(running.folder / "res" / "OQSsiquc01res_priv_0001.xml")
            assert stat.S_IMODE(status.st_mode) == mode
            assert gid is None or status.st_gid == gid
        finally:
            try:
                assert running.stop() == 0
            finally:
                running.reap()


# -- 6. names in the log --------------------------------------------------------------------


def test_a_newline_in_a_file_name_forges_no_line_of_the_log(link: Running) -> None:
    forged = "2026-11-24T09:00:00+09:00 answer OQSsiquc01res_forged.xml 有効"
    name = f"OQSsiquc01req_nl_0001\n{forged}\x1b[2J.xml"
    drop(link.folder, name, persona_request(link.world, "kokuho"))
    answer(link.folder, name)
    said = link.said("OQSsiquc01req_nl_0001")
    assert all("␊" in line and "␛" in line for line in said)
    assert not [line for line in link.lines if line.startswith(forged)]
    assert not [line for line in link.lines if "\x1b" in line]
