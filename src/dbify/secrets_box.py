"""Encryption of secrets at rest (project database URLs), with key rotation.

Owns the master key: where it comes from (``Settings.master_key``, else a file
``data_dir/master.key`` generated once with mode 0600) and how values are sealed
(Fernet: AES-128-CBC + HMAC-SHA256, authenticated). Several keys may be configured,
newest first: the first encrypts, all decrypt, and ``rotate`` re-seals a value under
the newest key (a command re-sealing every stored secret is still to come). This module
does not know what it encrypts or where the ciphertext is stored.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from dbify.settings import Settings

__all__ = ["SecretBox", "SecretBoxError", "load_secret_box"]

_KEY_FILE = "master.key"


class SecretBoxError(Exception):
    """A value could not be decrypted (wrong or missing master key) or a key is malformed."""


class SecretBox:
    """Seals and opens short secrets with the configured master keys."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise SecretBoxError("at least one master key is needed")
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except (ValueError, TypeError) as exc:
            raise SecretBoxError(
                "a master key is not a valid Fernet key (32 url-safe base64-encoded bytes)"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise SecretBoxError("cannot decrypt a stored secret with the master key(s)") from exc

    def rotate(self, token: str) -> str:
        """The same secret sealed under the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise SecretBoxError("cannot decrypt a stored secret with the master key(s)") from exc


def _generated_key(data_dir: Path) -> bytes:
    path = data_dir / _KEY_FILE
    if path.exists():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as file:
        file.write(key)
    return key


def load_secret_box(settings: Settings) -> SecretBox:
    """The box for ``settings``: configured keys (comma-separated, newest first), else the
    key file in ``data_dir``, generated on first use."""
    if settings.master_key is not None:
        keys = [k.strip().encode() for k in settings.master_key.get_secret_value().split(",")]
        return SecretBox([k for k in keys if k])
    return SecretBox([_generated_key(Path(settings.data_dir))])
