"""Outgoing email: a ``MailBackend`` Protocol, a console backend for development and an
SMTP backend for any relay (SES, SendGrid, Postfix...).

    MailBackend (Protocol)
    ├── ConsoleMailBackend   writes messages to a stream (the default)
    └── SmtpMailBackend      SMTP with STARTTLS or implicit TLS, optional auth, retries

``build_mail_backend`` picks one from ``Settings.mail``.
"""

from dbify.backends.mail.base import MailBackend, MailError, OutgoingMail
from dbify.backends.mail.console import ConsoleMailBackend
from dbify.backends.mail.smtp import SmtpMailBackend, build_mail_backend

__all__ = [
    "ConsoleMailBackend",
    "MailBackend",
    "MailError",
    "OutgoingMail",
    "SmtpMailBackend",
    "build_mail_backend",
]
