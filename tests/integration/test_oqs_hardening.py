"""The mock service against a stranger (issue 9): no client certificate, huge or slow
requests, too many connections or nonces, garbage — each refused early, in the service's
error format, without tying up the worker."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_oqs.app import ServiceSettings, create_app
from mock_oqs.world import World
from mock_oqs.xml import render_xml
from tests.support.oqs import (
    _SyncOverAsync,
    client_for,
    confirm,
    forget_service_state,
    nonce,
    pin_body,
    stranger_pem,
    with_client_cert,
)
from tests.support.stack import WORLD_TODAY, mock_oqs_serving

LIMITS = ("--request-timeout", "2", "--max-connections", "8")
HUGE_POST_HEAD = (
    b"POST /v1/confirmations/card HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100000000\r\n\r\n"
)


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    with mock_oqs_serving(world, workers=1, options=LIMITS) as (_, url):
        yield url


def context(world: World, *, with_cert: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(world.facility_ca))
    if with_cert:
        ctx.load_cert_chain(world.terminal_cert, world.terminal_key)
    return ctx


def connect(world: World, url: str, *, with_cert: bool = True) -> ssl.SSLSocket:
    port = int(url.rsplit(":", 1)[1])
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context(world, with_cert=with_cert).wrap_socket(raw, server_hostname="127.0.0.1")


def answer(sock: ssl.SSLSocket) -> tuple[int, dict[str, str], dict[str, object]]:
    """Status, headers and JSON body of one response (the connection is then closed)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, json.loads(body)


def health_is_quick(world: World, url: str) -> float:
    start = time.perf_counter()
    response = httpx.get(f"{url}/health", verify=context(world, with_cert=False), timeout=5)
    assert response.status_code == 200
    return time.perf_counter() - start


def test_a_huge_post_without_a_certificate_is_refused_before_its_body(
    world: World, server: str
) -> None:
    """100 MB announced, a few bytes sent: 401 at once, the body never read."""
    with connect(world, server, with_cert=False) as sock:
        sock.sendall(HUGE_POST_HEAD + b"{")
        status, headers, body = answer(sock)
    assert status == 401 and body["error"] == {
        "code": "MOCK-E001",
        "message": "a client certificate from the facility CA is required",
    }
    assert headers["connection"] == "close"


def test_a_body_over_64_kib_is_refused_unread(world: World, server: str) -> None:
    with connect(world, server) as sock:
        sock.sendall(HUGE_POST_HEAD + b"{")
        status, _, body = answer(sock)
    assert status == 413 and body["error"]["code"] == "MOCK-E011"  # type: ignore[index]
    # chunked, without a Content-Length: counted as it arrives
    big = b"x" * 70_000
    with connect(world, server) as sock:
        sock.sendall(
            b"POST /v1/confirmations/card HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            + f"{len(big):x}\r\n".encode()
            + big
            + b"\r\n0\r\n\r\n"
        )
        status, _, body = answer(sock)
    assert status == 413 and body["error"]["code"] == "MOCK-E011"  # type: ignore[index]


def test_huge_headers_are_cut_off_and_the_worker_stays_free(world: World, server: str) -> None:
    with connect(world, server, with_cert=False) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
        start = time.perf_counter()
        try:
            for _ in range(2000):  # up to 128 MB, but the server closes long before
                sock.sendall(b"a" * 65536)
        except OSError:
            pass
        status, _, body = answer(sock)
        assert time.perf_counter() - start < 5
    assert status == 431 and body["error"]["code"] == "MOCK-E011"  # type: ignore[index]
    assert health_is_quick(world, server) < 2


@pytest.mark.parametrize(
    "head",
    [
        b"X-Big: " + b"a" * 20_000 + b"\r\n",
        b"X-Big: " + b"a" * 64_000 + b"\r\n",
        b"".join(b"X-H%03d: " % n + b"b" * 100 + b"\r\n" for n in range(200)),  # many small
    ],
    ids=["20KB", "64KB", "200x100B"],
)
def test_huge_headers_sent_in_one_piece_are_refused_too(
    world: World, server: str, head: bytes
) -> None:
    """Issue 19: a header over 16 KiB that arrived in one read got through (200): the cap
    counted only what was still unparsed after a read."""
    with connect(world, server, with_cert=False) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
        status, headers, body = answer(sock)
    assert status == 431 and body["error"]["code"] == "MOCK-E011"  # type: ignore[index]
    assert headers["connection"] == "close"
    assert health_is_quick(world, server) < 2


def test_a_slow_sender_is_dropped(world: World, server: str) -> None:
    """Half a request line, then nothing: 408 after the request timeout (2 s here)."""
    with connect(world, server) as sock:
        sock.sendall(b"POST /v1/nonces HTTP/1.1\r\nHost: x\r\n")
        start = time.perf_counter()
        status, _, body = answer(sock)
        waited = time.perf_counter() - start
    assert status == 408 and body["error"]["code"] == "MOCK-E012"  # type: ignore[index]
    assert 1.5 < waited < 6
    assert health_is_quick(world, server) < 2


def test_connections_past_the_limit_get_503(world: World, server: str) -> None:
    held = [connect(world, server) for _ in range(8)]
    try:
        with connect(world, server) as extra:
            status, _, body = answer(extra)
        assert status == 503 and body["error"]["code"] == "MOCK-E013"  # type: ignore[index]
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.2)
    assert health_is_quick(world, server) < 2


def test_framework_errors_use_the_service_format(world: World, server: str) -> None:
    with httpx.Client(base_url=server, verify=context(world, with_cert=True)) as client:
        missing = client.get("/v1/nowhere")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "MOCK-E010"
        wrong = client.get("/v1/nonces")
        assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "MOCK-E010"
        garbage = client.post(
            "/v1/confirmations/card",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert garbage.status_code == 422
        assert garbage.json()["error"]["code"] == "MOCK-E006"
    with connect(world, server) as sock:
        sock.sendall(b"\x00\x01 not http at all\r\n\r\n")
        status, _, body = answer(sock)
    assert status == 400 and body["error"]["code"] == "MOCK-E006"  # type: ignore[index]


def in_process(world: World, max_outstanding_nonces: int | None = 256) -> httpx.Client:
    settings = ServiceSettings(
        world=world.directory, today=WORLD_TODAY, max_outstanding_nonces=max_outstanding_nonces
    )
    pem = (world.terminal_cert).read_text()
    return _SyncOverAsync(httpx.ASGITransport(app=with_client_cert(create_app(settings), pem)))


def test_outstanding_nonces_per_facility_are_bounded(world: World, tmp_path: Path) -> None:
    forget_service_state(world, "nonces")  # other tests' unused ones count too
    with in_process(world, max_outstanding_nonces=5) as client:
        issued = [client.post("/v1/nonces") for _ in range(5)]
        assert all(r.status_code == 200 for r in issued)
        refused = client.post("/v1/nonces")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "MOCK-E009"
        # a nonce used (even by a refused confirmation) frees its place
        used = client.post(
            "/v1/confirmations/card",
            json={
                "certificate": "AAAA",
                "method": "pin",
                "nonce": issued[0].json()["nonce"],
                "signature": "AAAA",
            },
        )
        assert used.status_code in (403, 422)
        assert client.post("/v1/nonces").status_code == 200


def test_another_facilitys_attempt_does_not_spend_a_nonce(world: World) -> None:
    """Issue 19: the nonce row was deleted before its facility was compared, so a stranger
    who learnt a nonce (or guessed it) spent it for the clinic it was issued to."""
    app = create_app(ServiceSettings(world=world.directory, today=WORLD_TODAY))
    with client_for(app, world.terminal_cert.read_text()) as clinic:
        value = nonce(clinic)
        with client_for(app, stranger_pem()) as stranger:
            refused = confirm(stranger, pin_body(world, "adult-kyokai", value))
        assert refused.status_code == 409
        assert refused.json()["error"] == {
            "code": "MOCK-E002",
            "message": "nonce was issued to another facility",
        }
        mine = confirm(clinic, pin_body(world, "adult-kyokai", value))
        assert mine.status_code == 200, mine.text
        assert mine.json()["MessageBody"]["QualificationValidity"] == "1"
        again = confirm(clinic, pin_body(world, "adult-kyokai", value))  # single use still
        assert again.status_code == 409 and again.json()["error"]["code"] == "MOCK-E002"


@pytest.mark.parametrize("identifier", ["a\x1bb", "a\x00b", "\u202eabc", "a\x9bb", "\ufffe"])
def test_control_characters_in_a_request_are_refused(world: World, identifier: str) -> None:
    entry = world.persona("adult-kyokai")
    numbers = entry["numbers"]
    with in_process(world) as client:
        response = client.post(
            "/v1/confirmations/number",
            json={
                "insurer_number": numbers["current_insurer_number"],
                "symbol": numbers["current_symbol"],
                "number": numbers["current_number"],
                "birth_date": entry["birth_date"].replace("-", ""),
                "arbitrary_file_identifier": identifier,
            },
            headers={"accept": "application/xml"},
        )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "MOCK-E006" and "arbitrary_file_identifier" in error["message"]
    assert (
        f"U+{ord(identifier[1] if identifier[0] == 'a' else identifier[0]):04X}"
        in (error["message"])
    )


def test_xml_answers_stay_well_formed_whatever_the_data() -> None:
    import xml.etree.ElementTree as ET

    message = {
        "MessageHeader": {"ArbitraryFileIdentifier": "x\x1b\x00\ufffe\u202ey"},
        "MessageBody": {"ProcessingResultMessage": "偽\x07名"},
    }
    root = ET.fromstring(render_xml(message))  # noqa: S314 (our own output)
    assert root.findtext("MessageHeader/ArbitraryFileIdentifier") == "x␛␀��y"
    assert root.findtext("MessageBody/ProcessingResultMessage") == "偽␇名"
