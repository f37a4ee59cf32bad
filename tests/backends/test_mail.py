"""Mail backends against a real SMTP server (aiosmtpd): plain, STARTTLS + auth, implicit TLS."""

from __future__ import annotations

import datetime as dt
import io
import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from dbify.backends.mail import ConsoleMailBackend, MailError, OutgoingMail, SmtpMailBackend

pytestmark = pytest.mark.anyio
MAIL = OutgoingMail(("a@example.com", "b@example.com"), "Hello", "plain body", "<p>html body</p>")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificate(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
) -> AuthResult:
    ok = auth.login == b"dbify" and auth.password == b"secret"
    # handled=False: the server answers (235 or 535) itself.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[_Inbox, dict[str, Any]]]:
    """Three servers: plain, STARTTLS with required auth, implicit TLS."""
    inbox = _Inbox()
    server_tls, client_tls = _certificate(tmp_path)
    ports = {"none": _free_port(), "starttls": _free_port(), "tls": _free_port()}
    controllers = [
        Controller(inbox, hostname="127.0.0.1", port=ports["none"]),
        Controller(
            inbox, hostname="127.0.0.1", port=ports["starttls"], tls_context=server_tls,
            require_starttls=True, authenticator=_authenticator, auth_required=True,
        ),
        Controller(inbox, hostname="127.0.0.1", port=ports["tls"], ssl_context=server_tls),
    ]  # fmt: skip
    for controller in controllers:
        controller.start()
    try:
        yield inbox, {"ports": ports, "client_tls": client_tls}
    finally:
        for controller in controllers:
            controller.stop(no_assert=True)


async def test_plain_delivery(smtp: tuple[_Inbox, dict[str, Any]]) -> None:
    inbox, config = smtp
    backend = SmtpMailBackend(
        "127.0.0.1", config["ports"]["none"], sender="dbify@test", security="none"
    )
    await backend.send(MAIL)
    recipients, message = inbox.messages[0]
    assert recipients == ["a@example.com", "b@example.com"]
    assert message["Subject"] == "Hello"
    assert message["From"] == "dbify@test"
    types = [p.get_content_type() for p in message.walk()]
    assert types == ["multipart/alternative", "text/plain", "text/html"]


async def test_starttls_with_auth(smtp: tuple[_Inbox, dict[str, Any]]) -> None:
    inbox, config = smtp
    backend = SmtpMailBackend(
        "127.0.0.1", config["ports"]["starttls"], sender="dbify@test", security="starttls",
        username="dbify", password="secret", tls_context=config["client_tls"],
    )  # fmt: skip
    await backend.send(MAIL)
    assert len(inbox.messages) == 1
    wrong = SmtpMailBackend(
        "127.0.0.1", config["ports"]["starttls"], sender="dbify@test", security="starttls",
        username="dbify", password="nope", tls_context=config["client_tls"], retries=0,
    )  # fmt: skip
    with pytest.raises(MailError):
        await wrong.send(MAIL)
    assert len(inbox.messages) == 1


async def test_implicit_tls(smtp: tuple[_Inbox, dict[str, Any]]) -> None:
    inbox, config = smtp
    backend = SmtpMailBackend(
        "127.0.0.1", config["ports"]["tls"], sender="dbify@test", security="tls",
        tls_context=config["client_tls"],
    )  # fmt: skip
    await backend.send(MAIL)
    assert inbox.messages[0][1]["Subject"] == "Hello"


async def test_unreachable_relay_raises_after_retries() -> None:
    backend = SmtpMailBackend(
        "127.0.0.1", _free_port(), sender="x@test", security="none", retries=1, timeout=1
    )
    with pytest.raises(MailError):
        await backend.send(MAIL)


async def test_console_backend_prints() -> None:
    stream = io.StringIO()
    backend = ConsoleMailBackend(stream, sender="dbify@test")
    await backend.send(MAIL)
    assert "Subject: Hello" in stream.getvalue()
    assert backend.sent == [MAIL]
