"""SMTP delivery with aiosmtplib: STARTTLS or implicit TLS, optional login, retries.

aiosmtplib's exceptions (and socket errors) become ``MailError`` here, after
``retries`` further attempts with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from dbify.backends.mail.base import MailBackend, MailError, OutgoingMail
from dbify.backends.mail.console import ConsoleMailBackend
from dbify.settings import Settings

__all__ = ["SmtpMailBackend", "build_mail_backend"]

Security = Literal["none", "starttls", "tls"]


class SmtpMailBackend:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._host, self._port = host, port
        self._sender = sender
        self._security = security
        self._username, self._password = username, password
        self._timeout = timeout
        self._retries = retries
        self._tls_context = tls_context

    async def send(self, mail: OutgoingMail) -> None:
        message = mail.as_message(self._sender)
        delay = 0.5
        for attempt in range(self._retries + 1):
            try:
                await self._send_once(message)
                return
            except (aiosmtplib.SMTPException, OSError) as error:
                if attempt == self._retries:
                    raise MailError(f"SMTP delivery failed: {type(error).__name__}") from error
                await asyncio.sleep(delay)
                delay *= 2

    async def _send_once(self, message: EmailMessage) -> None:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._security == "tls",
            start_tls=self._security == "starttls",
            tls_context=self._tls_context,
            timeout=self._timeout,
        )
        await client.connect()
        transport = client.transport
        try:
            if self._username is not None:
                await client.login(self._username, self._password or "")
            await client.send_message(message)
            with contextlib.suppress(aiosmtplib.SMTPException):
                await client.quit()
        finally:
            client.close()
            # The message is accepted or refused: drop the connection rather than leave a
            # TLS close handshake pending on the loop. The socket's close is a callback,
            # run by yielding once.
            if isinstance(transport, asyncio.Transport):
                transport.abort()
                await asyncio.sleep(0)


def build_mail_backend(settings: Settings) -> MailBackend:
    config = settings.mail
    if config.backend == "console":
        return ConsoleMailBackend(sender=config.sender)
    return SmtpMailBackend(
        config.smtp_host,
        config.smtp_port,
        sender=config.sender,
        security=config.smtp_security,
        username=config.smtp_username,
        password=config.smtp_password.get_secret_value() if config.smtp_password else None,
        timeout=config.smtp_timeout_seconds,
        retries=config.smtp_retries,
    )
