"""The mail worker: queued at once, retried with backoff, not lost on a transient SMTP
failure (a real aiosmtpd server that refuses the first attempt), dropped after its tries."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dbify.backends.mail import MailError, OutgoingMail, SmtpMailBackend
from dbify.workers.mail import MailWorker

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _FlakyInbox:
    """Answers 451 (try again later) to the first ``failures`` messages."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.attempts <= self.failures:
            return "451 4.3.0 Temporary failure, try again"
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def flaky() -> Iterator[tuple[_FlakyInbox, int]]:
    handler = _FlakyInbox(failures=1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


_MAIL = OutgoingMail(("ada@example.com",), "[Dbify] hello", "text", "<p>html</p>")


async def test_transient_smtp_failure_is_retried_and_delivered(
    flaky: tuple[_FlakyInbox, int],
) -> None:
    handler, port = flaky
    smtp = SmtpMailBackend("127.0.0.1", port, sender="dbify@test", security="none", retries=0)
    worker = MailWorker(smtp, attempts=4, retry_initial_seconds=0.2)
    await worker.start()
    try:
        await worker.send(_MAIL)  # returns at once
        assert await worker.drain(5.0)
    finally:
        await worker.stop()
    assert handler.attempts == 2
    assert [m["Subject"] for m in handler.messages] == ["[Dbify] hello"]
    health = worker.health()
    assert (health["sent"], health["retried"], health["dead"]) == (1, 1, 0)
    assert "SMTP delivery failed" in str(health["last_error"])


class _Broken:
    def __init__(self) -> None:
        self.calls = 0

    async def send(self, mail: OutgoingMail) -> None:
        self.calls += 1
        raise MailError("relay down")


async def test_gives_up_after_its_attempts_with_growing_delays() -> None:
    broken = _Broken()
    worker = MailWorker(broken, attempts=3, retry_initial_seconds=0.05, retry_max_seconds=1.0)
    delays = [worker.retry_delay(n) for n in (1, 2, 3, 10)]
    assert 0.025 <= delays[0] <= 0.05
    assert 0.05 <= delays[1] <= 0.1
    assert delays[3] <= 1.0
    await worker.start()
    try:
        await worker.send(_MAIL)
        assert await worker.drain(5.0)
        await asyncio.sleep(0)
    finally:
        await worker.stop()
    assert broken.calls == 3
    assert worker.health()["dead"] == 1
