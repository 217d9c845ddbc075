"""The folder interface from the clinic software's side: requests as it writes them, a real
`reception link` process, answers as it reads them (oqs.md §7)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from mock_oqs.world import World
from reader.children import spawn
from tests.support.xmlmsg import check_xmlmsg

RECEPTION = str(Path(sys.executable).parent / "reception")


def request_xml(
    numbers: dict[str, str],
    birth: str,
    *,
    file_id: str = "id-1",
    encoding: str = "UTF-8",
    code: str = "0",
) -> bytes:
    text = f"""<?xml version="1.0" encoding="{encoding}"?>
<XmlMsg><MessageHeader><QualificationConfirmationDate>20261124</QualificationConfirmationDate>
<MedicalInstitutionCode>1312345678</MedicalInstitutionCode>
<ArbitraryFileIdentifier>{file_id}</ArbitraryFileIdentifier>
<CharacterCodeIdentifier>{code}</CharacterCodeIdentifier></MessageHeader>
<MessageBody><QualificationConfirmSearchInfo>
<InsurerNumber>{numbers["current_insurer_number"].rjust(8)}</InsurerNumber>
<InsuredCardSymbol>{numbers["current_symbol"]}</InsuredCardSymbol>
<InsuredIdentificationNumber>{numbers["current_number"]}</InsuredIdentificationNumber>
<InsuredBranchNumber>{numbers["current_branch"]}</InsuredBranchNumber>
<Birthdate>{birth.replace("-", "")}</Birthdate>
<LimitApplicationCertificateRelatedConsFlg>1</LimitApplicationCertificateRelatedConsFlg>
</QualificationConfirmSearchInfo></MessageBody></XmlMsg>"""
    return text.encode("cp932" if encoding == "Shift_JIS" else "utf-8")


def persona_request(world: World, persona: str, **kwargs: str) -> bytes:
    entry = world.persona(persona)
    return request_xml(entry["numbers"], entry["birth_date"], **kwargs)


def drop(folder: Path, name: str | bytes, data: bytes) -> None:
    """As careful clinic software does: written under a hidden name, then renamed. A
    ``bytes`` name is taken as it is (a Windows client's Shift_JIS name)."""
    req = os.fsencode(folder / "req")
    raw = os.fsencode(name)
    hidden = os.path.join(req, b"." + raw[:200] + b".part")
    with open(hidden, "wb") as fh:
        fh.write(data)
    os.replace(hidden, os.path.join(req, raw))


def answer_path(folder: Path, name: str | bytes) -> Path:
    raw = os.fsencode(name)
    return folder / "res" / os.fsdecode(raw.replace(b"req", b"res", 1))


def moved_aside(folder: Path, name: str, seconds: float = 15.0) -> bool:
    """Whether the request reaches req/done/ (the link moves it just after its answer:
    on a busy machine not in the same instant)."""
    deadline = time.monotonic() + seconds
    while not (folder / "req" / "done" / name).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def answer(folder: Path, name: str | bytes, seconds: float = 15.0) -> ET.Element:
    """The answer, once there; a qualification result (OQS…) checked against the format,
    the simulator's own layouts (照会番号, YZK, TKK) only parsed."""
    path = answer_path(folder, name)
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"no answer {path.name!r}"
        time.sleep(0.02)
    data = path.read_bytes()
    if path.name.startswith("OQSsiquc") or b"<SegmentOfResult>9<" in data:
        return check_xmlmsg(data)
    return ET.fromstring(data)  # noqa: S314 (our own answer)


def old(path: Path) -> None:
    """Written a while ago: not a writer that has not finished."""
    past = time.time() - 60
    os.utime(path, (past, past))


class Running:
    """`reception link --folder … --world …` as a process; its stderr kept, line by line.
    ``with_world`` False: no ``--world``, the service the settings (``env``) name."""

    with_world = True

    def __init__(self, world: World, folder: Path, tmp: Path, **env: str) -> None:
        self.world, self.folder, self.tmp = world, folder, tmp
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None
        self._groups: list[int] = []

    def launch(self) -> subprocess.Popen[bytes]:
        env = os.environ | {
            "RECEPTION_CONFIG": str(self.tmp / "none.toml"),
            "RECEPTION_DATA_DIR": str(self.tmp / "data"),
            **self.env,
        }
        command = [RECEPTION, "link", "--folder", str(self.folder)]
        if self.with_world:
            command += ["--world", str(self.world.directory)]
        proc = spawn(
            command,
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: see reap()
        )
        self._groups.append(proc.pid)
        return proc

    def start(self) -> None:
        self.proc = self.launch()
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline().decode()  # once it watches
        assert "watching" in line, line + self.proc.stderr.read().decode()
        self.lines = []
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:  # drained, so that a chatty link never blocks on the pipe
            self.lines.append(raw.decode("utf-8", errors="replace"))

    def said(self, text: str, seconds: float = 15.0) -> list[str]:
        """The lines of stderr that contain ``text``, once there is one."""
        deadline = time.monotonic() + seconds
        while not (found := [line for line in self.lines if text in line]):
            assert time.monotonic() < deadline, f"the link never said {text!r}"
            time.sleep(0.02)
        return found

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # wedged: it must not outlive the test
            self.proc.kill()
            self.proc.wait()
            raise
        if self._reader is not None:
            self._reader.join(timeout=5)
        self.proc = None
        return code

    @contextlib.contextmanager
    def serving(self) -> Iterator[Running]:
        """Started; on leaving, stopped with SIGTERM (a clean stop, exit 0, unless the
        test stopped it itself) and whatever it left behind reaped."""
        self.start()
        try:
            yield self
            if self.proc is not None:
                assert self.stop() == 0  # SIGTERM: a clean stop
        finally:
            self.reap()

    def reap(self) -> None:
        """End what the links started and left behind: a link killed with SIGKILL cannot
        stop the `mock-oqs serve` it started for --world, which would outlive the test
        suite. Each link led a process group of its own; what is left of it is ended."""
        for group in self._groups:
            with contextlib.suppress(ProcessLookupError):  # nothing left
                os.killpg(group, signal.SIGTERM)
        self._groups.clear()
