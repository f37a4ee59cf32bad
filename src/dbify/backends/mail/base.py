"""The message and the interface every mail backend offers."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

__all__ = ["MailBackend", "MailError", "OutgoingMail"]


class MailError(Exception):
    """The message could not be handed to the relay (after the backend's retries)."""


@dataclass(frozen=True, slots=True)
class OutgoingMail:
    """One message to ``to`` (several recipients get the same message)."""

    to: tuple[str, ...]
    subject: str
    text: str
    html: str

    def as_message(self, sender: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(self.to)
        message["Subject"] = self.subject
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


class MailBackend(Protocol):
    async def send(self, mail: OutgoingMail) -> None:
        """Deliver ``mail`` to the relay or raise ``MailError``."""
