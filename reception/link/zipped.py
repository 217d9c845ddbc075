"""Answers as ZIP files, per kind of request (``link.answer_form``): plain XML (the real
default), a ZIP, or a password-protected ZIP.

What it rests on:

- The real terminal's communication app (OQSComApp) keeps, per file-name prefix, ``e``
  (encrypt) or ``n`` in ``C:\\ProgramData\\OQS\\OQSComApp\\config\\encrypt.conf`` (lines
  ``<prefix>=e|n``; ``encrypt_face.conf`` for face/), the password in the Windows
  credential ``OQS_CRYPT_PASS``; some prefixes stay ``n`` whatever is chosen (``EPS``,
  ``OQSmutic``, ``OQSmuhvq``, ``OQSmuonq``, ``OQSsihvq``, ``OQSsionq``, ``OQSsihvd``,
  ``OQSsiurl``, ``OQSsiinq``, ``OQSsiupd``, ``PMHsimsm``) — a public kitting script for
  these terminals, ``ONS_Reconfig_Encrypt`` (オン資端末 暗号化再設定, 2023), which sets
  them. Hence a setting per prefix, matched at the start of the request's name (the
  longest prefix set wins), and no encryption for those prefixes.
- YUKI-ENT/OQSDrug2 ``BulkQualificationService``: ``FindExpectedResultFile`` looks in
  res/ for the request's name with ``01req_``/``02req_`` turned into ``01res_``/``02res_``
  and the suffix ``.xml`` or ``.zip``; ``ImportResultAsync`` extracts the ZIP and takes
  the ``.xml`` entry whose name starts with the kind's answer prefix (``OQSmutic02res_``
  …), else the first ``.xml``. So the ZIP is named as the answer with ``.zip``, and holds
  one entry: the answer as it would have been written, under its own name. It opens the
  ZIP with .NET's ``System.IO.Compression`` (no password): its kinds are the exempt ones.
- The encryption: no public source says which the terminal uses. Ours is the classic
  PKWARE encryption (ZipCrypto): Windows' own "すべて展開", .NET-based tools with
  password support, 7-Zip, Info-ZIP ``unzip`` and Python's :mod:`zipfile` all read it,
  and it needs no library; AES (WinZip AE-2) is not read by Windows Explorer nor by
  :mod:`zipfile`. It is weak (a known-plaintext attack recovers the keys from an XML
  header in minutes): it keeps a file from casual eyes, as the real setting does; the
  folder's permissions (0600 / 0640, ``link.group``) are what protect the answers.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
import time
import zipfile
import zlib
from collections.abc import Mapping

from reception.link.terms import Reply, answer_name

ZIP_SUFFIX = ".zip"


def form_of(forms: Mapping[str, str], request: str) -> str:
    """The form of the answer to ``request`` (a file name): the setting of the longest
    prefix it starts with; ``xml`` when none."""
    found = [prefix for prefix in forms if request.startswith(prefix)]
    return forms[max(found, key=len)] if found else "xml"


def wrapped(request: str, reply: Reply, form: str, password: bytes | None) -> Reply:
    """The answer as it is written in ``form``: unchanged for ``xml``; else a ZIP holding
    the answer under its own name (the request's name with ``req`` → ``res``)."""
    if form == "xml":
        return reply
    entry = answer_name(request, reply.suffix)
    when = time.localtime()[:6]
    if form == "zip":
        data = _plain_zip(entry, reply.data, when)
    else:
        assert password, "refused at start: an encrypted form needs a password"
        data = _encrypted_zip(entry, reply.data, when, password)
    return Reply(data, ZIP_SUFFIX, reply.summary)


def _plain_zip(entry: str, data: bytes, when: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(entry, date_time=(*when[:6],))  # type: ignore[arg-type]
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, data)
    return buffer.getvalue()


# -- ZipCrypto (PKWARE APPNOTE 6.3.x, §6.1 "Traditional PKWARE Encryption") --------------


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def _zipcrypto(plain: bytes, password: bytes) -> bytes:
    """``plain`` (the 12-byte header and the compressed data) encrypted."""
    table = _TABLE
    k0, k1, k2 = 0x12345678, 0x23456789, 0x34567890

    def update(k0: int, k1: int, k2: int, byte: int) -> tuple[int, int, int]:
        k0 = table[(k0 ^ byte) & 0xFF] ^ (k0 >> 8)
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = table[(k2 ^ (k1 >> 24)) & 0xFF] ^ (k2 >> 8)
        return k0, k1, k2

    for byte in password:
        k0, k1, k2 = update(k0, k1, k2, byte)
    out = bytearray(len(plain))
    for i, byte in enumerate(plain):
        temp = (k2 | 2) & 0xFFFF
        out[i] = byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF)
        k0, k1, k2 = update(k0, k1, k2, byte)
    return bytes(out)


def _encrypted_zip(entry: str, data: bytes, when: tuple[int, ...], password: bytes) -> bytes:
    """One entry, deflated, then encrypted with ZipCrypto: the local header, the data,
    the central directory and its end (APPNOTE §4.3)."""
    raw = os.fsencode(entry)
    flags = 0x0001  # encrypted
    try:
        if not raw.isascii() and raw.decode("utf-8"):
            flags |= 0x0800  # the name is UTF-8
    except UnicodeDecodeError:
        pass  # a Windows client's Shift_JIS name: its bytes, as Windows tools write them
    crc = zlib.crc32(data)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(data) + compressor.flush()
    header = secrets.token_bytes(11) + bytes([crc >> 24])  # the last byte checks a password
    body = _zipcrypto(header + deflated, password)
    year, month, day, hour, minute, second = when[:6]
    dos_time = (hour << 11) | (minute << 5) | (second // 2)
    dos_date = ((year - 1980) << 9) | (month << 5) | day
    common = struct.pack("<HHHHHIII", 20, flags, 8, dos_time, dos_date, crc, len(body), len(data))
    local = b"PK\x03\x04" + common + struct.pack("<HH", len(raw), 0) + raw
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", (3 << 8) | 20)  # made by: Unix (the mode below), 2.0
        + common
        + struct.pack("<HHHHHII", len(raw), 0, 0, 0, 0, 0o100600 << 16, 0)
        + raw
    )
    offset = len(local) + len(body)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), offset, 0)
    return local + body + central + end
