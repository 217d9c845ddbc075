"""The OQS client's TLS: the terminal's context (mutual TLS, TLS 1.2+) and the resumption
of the last session with the service on every new connection."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from reception.settings import OqsSettings, SettingsError


class _RememberingObject(ssl.SSLObject):
    """A client TLS connection that hands its session to its context once the session
    can be resumed (a TLS 1.3 ticket arrives after the handshake, with the first read)."""

    _remembered = False

    def read(self, len: int = 1024, buffer: Any = None) -> Any:  # noqa: A002 (ssl's name)
        try:
            return super().read(len, buffer)
        finally:
            if not self._remembered:
                context = self.context
                if isinstance(context, ResumingContext):
                    self._remembered = context.remember(self)


class ResumingContext(ssl.SSLContext):
    """A client context that resumes the last TLS session with the same server on a new
    connection: the pool drops idle connections (the service closes them after its
    keep-alive time), and a resumed handshake skips the certificate exchange and the
    signatures of a full one (about half its cost on loopback; ``scripts/bench-checkin``).

    asyncio's TLS (which httpx uses) makes every connection with ``wrap_bio`` and no
    session, and httpx has no hook for one, so the context supplies it. The server's
    identity was verified when the session was made; the service still sees the
    terminal's certificate (it is part of the session). A server that does not know
    the ticket (restarted, another worker process) just does a full handshake.
    """

    sslobject_class = _RememberingObject
    _sessions: dict[str, ssl.SSLSession]
    connections = 0  # client connections through the handshake (counted once a session
    resumed = 0  # is known), and how many of them resumed one

    def remember(self, connection: ssl.SSLObject) -> bool:
        """Keep the connection's session for its server once it can be resumed; true when
        there is nothing more to wait for."""
        host = connection.server_hostname
        if host is None or connection.server_side:
            return True
        version = connection.version()
        session = connection.session
        if version is None or session is None:
            return False  # not yet through the handshake
        if version == "TLSv1.3" and not session.has_ticket:
            return False  # the ticket follows the handshake
        self.connections += 1
        self.resumed += connection.session_reused
        if session.has_ticket or session.id:  # else a TLS 1.2 server offering none
            self.sessions[host] = session
        return True

    @property
    def sessions(self) -> dict[str, ssl.SSLSession]:
        try:
            return self._sessions
        except AttributeError:
            self._sessions = {}
            return self._sessions

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        if session is None and not server_side and server_hostname is not None:
            host = server_hostname  # httpcore hands an IP address over as bytes
            session = self.sessions.get(host.decode() if isinstance(host, bytes) else host)
        return super().wrap_bio(incoming, outgoing, server_side, server_hostname, session)


def client_ssl_context(settings: OqsSettings) -> ResumingContext:
    """The terminal's TLS context (TLS 1.2+, the server verified against ``settings.ca``
    or the system's CAs, sessions resumed: :class:`ResumingContext`);
    :class:`SettingsError` naming the setting and the file when one is missing or
    unusable."""
    files = [
        ("oqs.ca (RECEPTION_OQS__CA)", settings.ca),
        ("oqs.client_cert (RECEPTION_OQS__CLIENT_CERT)", settings.client_cert),
        ("oqs.client_key (RECEPTION_OQS__CLIENT_KEY)", settings.client_key),
    ]
    for name, path in files:
        if path is not None and not Path(path).is_file():
            raise SettingsError(f"{name}: no such file: {path}")
    ctx = ResumingContext(ssl.PROTOCOL_TLS_CLIENT)  # as create_default_context makes it
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        if settings.ca:
            ctx.load_verify_locations(cafile=str(settings.ca))
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    except (ssl.SSLError, OSError) as exc:
        raise SettingsError(f"{files[0][0]}: {settings.ca}: not a usable CA file ({exc})") from None
    if settings.client_cert is not None and settings.client_key is not None:
        try:
            ctx.load_cert_chain(settings.client_cert, settings.client_key)
        except (ssl.SSLError, OSError) as exc:
            raise SettingsError(
                f"{files[1][0]} / {files[2][0]}: {settings.client_cert} and "
                f"{settings.client_key} are not a usable certificate and key ({exc})"
            ) from None
    return ctx
