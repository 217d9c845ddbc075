"""The folder interface in process, against a stand-in for the service: the races and
refusals a real process cannot be timed into (a request rewritten while it is answered, a
crash between two steps), the event loop kept free while a request is parsed, files
private under umask 022, names made harmless (design.md §6.8)."""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from reception.checkin import write_face_result
from reception.export import export_csv, export_xml, result_file_name
from reception.link import Link, LinkEvent, LinkFolderError, describe_answer
from reception.oqs_client import NumberQuery, OqsClient
from reception.results import FACE_FILE, QualificationResult
from reception.settings import ENV_CONFIG, SettingsError, load_settings
from reception.shared_folder import FilePrivacy
from reception.store import Store, now_jst
from reception.vocabulary import Method


def request(file_id: str) -> bytes:
    return (
        "<XmlMsg><MessageHeader>"
        f"<ArbitraryFileIdentifier>{file_id}</ArbitraryFileIdentifier></MessageHeader>"
        "<MessageBody><QualificationConfirmSearchInfo><InsurerNumber>06130012</InsurerNumber>"
        "<InsuredIdentificationNumber>1</InsuredIdentificationNumber>"
        "<Birthdate>19800615</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"
    ).encode()


def result(file_id: str | None = None) -> QualificationResult:
    return QualificationResult.parse(
        {
            "MessageHeader": {
                "ProcessExecutionTime": "20261124090000",
                "SegmentOfResult": "1",
                "ArbitraryFileIdentifier": file_id,
            },
            "MessageBody": {
                "ProcessingResultStatus": "1",
                "QualificationValidity": "1",
                "ResultList": {"ResultOfQualificationConfirmation": [{"Name": "山田 太郎"}]},
            },
        }
    )


class Service:
    """Answers every query with a valid result that echoes the request's identifier;
    ``hold`` keeps the next answer until released."""

    def __init__(self) -> None:
        self.asked: list[str | None] = []
        self.hold: asyncio.Event | None = None
        self.holding = asyncio.Event()

    async def confirm_number(self, query: NumberQuery) -> QualificationResult:
        self.asked.append(query.arbitrary_file_identifier)
        if self.hold is not None:
            self.holding.set()
            await self.hold.wait()
            self.hold = None
        return result(query.arbitrary_file_identifier)


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    before = os.umask(0o022)  # what most systems give
    yield tmp_path / "clinic"
    os.umask(before)


def make_link(folder: Path, service: Service, **kwargs: object) -> tuple[Link, list[LinkEvent]]:
    events: list[LinkEvent] = []
    link = Link(
        folder,
        cast(OqsClient, service),
        institution_code="1312345678",
        private_dir=folder.parent / "data",
        on_event=events.append,
        **kwargs,  # type: ignore[arg-type]
    )
    link.prepare()
    return link, events


def done_with(link: Link) -> None:
    """The folder released (the link's file thread finished)."""
    close = getattr(link, "close", None)  # (the link before issue 19 held nothing)
    if close is not None:
        close(wait=True)


def put(folder: Path, name: str, data: bytes) -> None:
    """Written whole under a hidden name, then renamed, with a time in the past."""
    (folder / "req").mkdir(parents=True, exist_ok=True)
    hidden = folder / "req" / f".{name}.part"
    hidden.write_bytes(data)
    past = now_jst().timestamp() - 60
    os.utime(hidden, (past, past))
    os.replace(hidden, folder / "req" / name)


def identifier(path: Path) -> str | None:
    return QualificationResult.from_xml(path.read_bytes()).message_header.arbitrary_file_identifier


def test_a_request_rewritten_while_it_is_answered_is_answered_again(folder: Path) -> None:
    """The first version was answered and then the file — by then the second version —
    was moved to done/ unanswered."""
    service = Service()

    async def scenario() -> None:
        link, _ = make_link(folder, service)
        put(folder, "OQSsiquc01req_rw_0001.xml", request("first"))
        service.hold = asyncio.Event()
        sweeping = asyncio.create_task(link.sweep())
        await service.holding.wait()  # the first version is with the service
        put(folder, "OQSsiquc01req_rw_0001.xml", request("second"))
        service.hold.set()
        await sweeping
        await link.sweep()  # the watcher's next look
        done_with(link)

    asyncio.run(scenario())
    assert service.asked == ["first", "second"]
    assert identifier(folder / "res" / "OQSsiquc01res_rw_0001.xml") == "second"
    assert not (folder / "req" / "OQSsiquc01req_rw_0001.xml").exists()
    [retired] = (folder / "req" / "done").iterdir()
    assert b"second" in retired.read_bytes()


def test_a_request_rewritten_in_place_on_a_coarse_clock_is_answered_again(folder: Path) -> None:
    """With 2-second timestamps (FAT, SMB) a request rewritten in place with the same size
    while it was answered kept its device, inode, size and time: it was moved to done/
    and its new content — another patient — never answered. The content is compared."""
    service = Service()
    name = "OQSsiquc01req_inplace_0001.xml"

    async def scenario() -> None:
        link, _ = make_link(folder, service)
        put(folder, name, request("first"))
        path = folder / "req" / name
        before = path.stat()
        service.hold = asyncio.Event()
        sweeping = asyncio.create_task(link.sweep())
        await service.holding.wait()  # the first content is with the service
        with open(path, "r+b") as fh:  # the same file, the same size
            fh.write(request("other"))
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # within one clock tick
        assert path.stat().st_size == before.st_size
        service.hold.set()
        await sweeping
        await link.sweep()  # the watcher's next look
        done_with(link)

    asyncio.run(scenario())
    assert service.asked == ["first", "other"]
    assert identifier(folder / "res" / "OQSsiquc01res_inplace_0001.xml") == "other"
    [retired] = (folder / "req" / "done").iterdir()
    assert b"other" in retired.read_bytes()


class Died(BaseException):
    """As far as the folder can tell, the process died here (kill -9)."""


def crash(*args: object, **kwargs: object) -> None:
    raise Died


def test_a_request_answered_before_a_crash_is_never_answered_twice(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed between the answer's rename and the request's move: the journal says it was
    answered, and the next link only moves it. Killed before the rename (the temp file
    still there): it never appeared, and the next link answers it."""
    import reception.link.folder as module  # where the link writes an answer
    from reception.link.folder import HeldFolder

    service = Service()

    async def die_at(name: str, step: str) -> None:
        link, _ = make_link(folder, service)
        with monkeypatch.context() as patched:
            patched.setattr(HeldFolder, "_retire", crash) if step == "move" else patched.setattr(
                module, "publish", crash
            )
            with pytest.raises(Died):
                await link.handle(name)
        link._close_now()  # nothing else: the kernel closes a dead process's files

    async def restart() -> None:
        link, _ = make_link(folder, service)
        await link.sweep()
        done_with(link)

    put(folder, "OQSsiquc01req_crash_0001.xml", request("once"))
    asyncio.run(die_at("OQSsiquc01req_crash_0001.xml", "move"))
    answered = (folder / "res" / "OQSsiquc01res_crash_0001.xml").stat().st_mtime_ns
    asyncio.run(restart())
    assert service.asked == ["once"]
    assert (folder / "res" / "OQSsiquc01res_crash_0001.xml").stat().st_mtime_ns == answered
    assert not (folder / "req" / "OQSsiquc01req_crash_0001.xml").exists()

    put(folder, "OQSsiquc01req_crash_0002.xml", request("twice"))
    asyncio.run(die_at("OQSsiquc01req_crash_0002.xml", "rename"))
    assert not (folder / "res" / "OQSsiquc01res_crash_0002.xml").exists()
    asyncio.run(restart())
    assert service.asked == ["once", "twice", "twice"]
    assert identifier(folder / "res" / "OQSsiquc01res_crash_0002.xml") == "twice"
    assert not [p for p in (folder / "res").iterdir() if p.name.startswith(".")]


def test_a_subfolder_swapped_for_a_symlink_is_refused_once(folder: Path, tmp_path: Path) -> None:
    """Refused every time it is used, said once (not every second); nothing written or
    moved through it; the request kept and answered once the folder is whole again."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    service = Service()

    async def scenario() -> list[LinkEvent]:
        link, events = make_link(folder, service)
        put(folder, "OQSsiquc01req_sw_0001.xml", request("kept"))
        put(folder, "OQSsiquc01req_sw_0002.xml", request("kept-too"))
        os.rename(folder / "res", folder / "res.real")
        os.symlink(elsewhere, folder / "res")
        for _ in range(3):
            await link.sweep()
        assert service.asked == []  # not even asked: the answer could not be written
        os.unlink(folder / "res")
        os.rename(folder / "res.real", folder / "res")
        os.rename(folder / "req" / "done", folder / "done.real")
        os.symlink(elsewhere, folder / "req" / "done")
        for _ in range(3):
            await link.sweep()
        done_with(link)
        return events

    events = asyncio.run(scenario())
    assert list(elsewhere.iterdir()) == []
    refusals = [e for e in events if e.kind == "error"]
    assert [e.detail.split("（")[0] for e in refusals] == [
        "LINK-E007 res がシンボリックリンクです",
        "LINK-E007 done がシンボリックリンクです",
    ]
    assert service.asked == ["kept", "kept-too"]  # answered once each, though never moved
    assert identifier(folder / "res" / "OQSsiquc01res_sw_0002.xml") == "kept-too"


def test_the_event_loop_is_free_while_a_request_is_parsed(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 240 KB request froze the whole TUI (reader panel, PIN pad) for 4.3 s: it was
    parsed on the event loop. Here the parse can only finish once the loop has run."""
    import reception.link.folder as module  # where the link reads a request
    from reception.results import xml_to_message as real

    started, released = threading.Event(), threading.Event()
    on_loop: list[bool] = []

    def parse(data: bytes) -> dict[str, object]:
        started.set()
        on_loop.append(not released.wait(10))  # the loop must release it meanwhile
        return real(data)

    monkeypatch.setattr(module, "xml_to_message", parse)

    async def scenario() -> None:
        link, _ = make_link(folder, Service())
        put(folder, "OQSsiquc01req_loop_0001.xml", request("loop"))
        sweeping = asyncio.create_task(link.sweep())
        while not started.is_set():
            await asyncio.sleep(0.001)
        released.set()  # the loop ran while the parse was under way
        await sweeping
        done_with(link)

    asyncio.run(scenario())
    assert on_loop == [False]
    assert identifier(folder / "res" / "OQSsiquc01res_loop_0001.xml") == "loop"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("group", [None, os.getegid()], ids=["owner", "group"])
def test_personal_data_is_private_under_umask_022(
    folder: Path, tmp_path: Path, group: int | None
) -> None:
    """Answers, face/ files and exports were 0644 under umask 022."""
    privacy = FilePrivacy(group)
    expected = 0o600 if group is None else 0o640
    extra = [] if group is None else [privacy]  # the default: the owner only

    async def scenario() -> None:
        options = {} if group is None else {"privacy": privacy}
        link, _ = make_link(folder, Service(), **options)
        put(folder, "OQSsiquc01req_priv_0001.xml", request("private"))
        await link.sweep()
        done_with(link)

    asyncio.run(scenario())
    face = write_face_result(folder / "face", "R1", result(), *extra)
    store = Store(tmp_path / "data" / "store.sqlite")
    rid = store.begin_reception()
    store.finish_reception(rid, status="confirmed", method=Method.PIN, result=result())
    day = dt.date.fromisoformat(store.reception(rid).started_at[:10])
    files = [
        folder / "res" / "OQSsiquc01res_priv_0001.xml",
        *([face] if face is not None else []),
        *export_xml(store, day, tmp_path / "export", *extra),
        export_csv(store, day, tmp_path / "export", *extra),
    ]
    assert len(files) == 4
    assert {path.name: mode_of(path) for path in files} == {path.name: expected for path in files}
    if group is not None:
        assert {os.stat(path).st_gid for path in files} == {group}


def test_the_face_writer_never_writes_through_a_symlink(folder: Path, tmp_path: Path) -> None:
    """face/ is written by every check-in: a symlink there (or a symlinked face/) took the
    card confirmation anywhere."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder.mkdir()
    os.symlink(elsewhere, folder / "face")
    assert write_face_result(folder / "face", "R1", result()) is None  # logged, check-in kept
    assert list(elsewhere.iterdir()) == []
    os.unlink(folder / "face")
    (folder / "face").mkdir()
    name = Path(result_file_name(result(), "R1")).name
    assert FACE_FILE.fullmatch(name), name  # the real form, 医療機関コード first
    os.symlink(victim, folder / "face" / f".{name}.tmp")  # where the old writer wrote
    written = write_face_result(folder / "face", "R1", result())
    assert written == folder / "face" / name and stat.S_ISREG(os.lstat(written).st_mode)
    assert victim.read_bytes() == b"precious"


def test_names_reach_the_log_and_the_pane_harmless(folder: Path) -> None:
    """A newline in a file name forged lines in the link's log; ESC recoloured the pane."""
    service = Service()
    name = "OQSsiquc01req_a\n2026-11-24T09:00:00 answer forged\x1b[31m.xml"

    async def scenario() -> list[LinkEvent]:
        link, events = make_link(folder, service)
        put(folder, name, request("named"))
        await link.sweep()
        done_with(link)
        return events

    events = asyncio.run(scenario())
    assert [e.kind for e in events] == ["request", "answer"]
    for event in events:
        assert not any(ord(c) < 0x20 for c in event.name + event.detail), event
        assert "␊" in event.name and "␛" in event.name
    assert events[1].file == name.replace("req", "res", 1)  # the real name, to open it


def test_the_link_group_is_a_group_this_user_can_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECEPTION_LINK__GROUP: a group that does not exist is refused when the settings
    load, naming it (not when the first patient's file cannot be written)."""
    monkeypatch.setenv(ENV_CONFIG, str(tmp_path / "none.toml"))
    monkeypatch.setenv("RECEPTION_LINK__GROUP", "no-such-group-here")
    with pytest.raises(SettingsError, match=r"link\.group: .*no-such-group-here"):
        load_settings()
    monkeypatch.setenv("RECEPTION_LINK__GROUP", str(os.getegid()))
    assert load_settings().link.privacy == FilePrivacy(os.getegid())
    monkeypatch.delenv("RECEPTION_LINK__GROUP")
    assert load_settings().link.privacy == FilePrivacy(None)


def test_a_full_disk_is_said_once_and_the_request_kept(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LINK-E007: the answer cannot be written. The request stays, its answer is written
    at a later sweep without asking the service again; staff read it once (its text named
    a random temp file: it was said every second)."""
    import reception.link.folder as module  # where the link writes an answer

    service = Service()
    full = iter(range(3))

    def no_space(dir_fd: int, data: bytes, privacy: FilePrivacy) -> str:
        raise OSError(28, "No space left on device", f".reception-{next(full)}.tmp")

    async def scenario() -> list[LinkEvent]:
        link, events = make_link(folder, service)
        put(folder, "OQSsiquc01req_full_0001.xml", request("full"))
        with monkeypatch.context() as patched:
            patched.setattr(module, "stage", no_space)
            for _ in range(3):
                await link.sweep()
        await link.sweep()  # space again
        done_with(link)
        return events

    events = asyncio.run(scenario())
    errors = [e.detail for e in events if e.kind == "error"]
    assert errors == ["LINK-E007 OSError: No space left on device"]
    assert service.asked == ["full"]
    assert identifier(folder / "res" / "OQSsiquc01res_full_0001.xml") == "full"


def test_a_link_whose_lock_file_another_link_took_stops(folder: Path) -> None:
    """On NFS and SMB a directory's flock is kept on the client: only the lock file's
    lock reaches links on other machines. Deleted, the file is made and locked again; if
    another link took it meanwhile, this one stops and says who holds the folder (two
    links would answer requests twice)."""

    async def scenario() -> None:
        link, _ = make_link(folder, Service())
        stop = asyncio.Event()
        running = asyncio.create_task(link.run(stop))
        lock = folder / ".reception-link.lock"
        lock.unlink()
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)  # the other machine's link
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, b"pid 4242 on other-host since 2026-11-24T09:00:00+09:00\n")
            with pytest.raises(LinkFolderError, match="pid 4242 on other-host"):
                await asyncio.wait_for(running, 30)
            assert link.started
        finally:
            stop.set()
            os.close(fd)

    asyncio.run(scenario())


def test_an_answer_planted_in_res_is_shown_in_part(folder: Path) -> None:
    """res/ is written by others too: the 連携 pane showed a planted answer's 3 MB
    ErrorMessage whole."""
    (folder / "res").mkdir(parents=True)
    planted = folder / "res" / "OQSsiquc01res_planted_0001.xml"
    planted.write_bytes(
        b"<XmlMsg><MessageHeader><SegmentOfResult>9</SegmentOfResult>"
        b"<ErrorCode>LINK-E003</ErrorCode><ErrorMessage>" + b"x" * 3_000_000 + b"</ErrorMessage>"
        b"</MessageHeader><MessageBody/></XmlMsg>"
    )
    [line] = describe_answer(planted)
    assert line.startswith("エラー LINK-E003: xxx") and len(line) < 300
    assert "（全3000015文字）" in line  # how long it was
