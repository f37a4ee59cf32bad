"""Development mail: print each message instead of sending it."""

from __future__ import annotations

import sys
from typing import TextIO

from dbify.backends.mail.base import OutgoingMail

__all__ = ["ConsoleMailBackend"]


class ConsoleMailBackend:
    def __init__(self, stream: TextIO | None = None, sender: str = "dbify@localhost") -> None:
        self._stream = stream
        self._sender = sender
        self.sent: list[OutgoingMail] = []

    async def send(self, mail: OutgoingMail) -> None:
        self.sent.append(mail)
        stream = self._stream or sys.stderr
        stream.write(mail.as_message(self._sender).as_string() + "\n")
        stream.flush()
