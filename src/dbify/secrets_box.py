"""Encryption of secrets at rest (project database URLs), with key rotation.

Owns the master keys: where they come from (``Settings.master_key``, comma-separated,
else the file ``data_dir/master.key``, generated once with mode 0600, one key a line)
and how values are sealed (Fernet: AES-128-CBC + HMAC-SHA256, authenticated). Several
keys may be configured, newest first: the first encrypts, all decrypt, and ``rotate``
re-seals a value under the newest key. ``add_key_to_file`` prepends a fresh key to the
key file, keeping the older ones as retired (decrypt-only) keys. This module does not
know what it encrypts or where the ciphertext is stored (``control/secrets`` does).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from dbify.os_errors import os_error_line
from dbify.settings import Settings

__all__ = [
    "SecretBox",
    "SecretBoxError",
    "add_key_to_file",
    "generate_key",
    "key_file",
    "load_secret_box",
]

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
        self._newest = Fernet(keys[0])
        self.key_count = len(keys)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise SecretBoxError("cannot decrypt a stored secret with the master key(s)") from exc

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is sealed under the newest key (rotating it would be a no-op)."""
        try:
            self._newest.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def can_open(self, token: str) -> bool:
        """Whether some configured key decrypts ``token``."""
        try:
            self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same secret sealed under the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise SecretBoxError("cannot decrypt a stored secret with the master key(s)") from exc


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def key_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / _KEY_FILE


def _read_keys(path: Path) -> list[bytes]:
    """The keys of a key file, newest first: one a line (commas also separate them, so
    a ``DBIFY_MASTER_KEY`` value can be pasted in); blank lines and ``#`` comments skipped."""
    keys: list[bytes] = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0]
        keys.extend(k.strip().encode() for k in line.split(",") if k.strip())
    return keys


def _generated_keys(path: Path) -> list[bytes]:
    if path.exists():
        return _read_keys(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_keys(path)
    with os.fdopen(fd, "wb") as file:
        file.write(key + b"\n")
    return [key]


def add_key_to_file(path: Path) -> int:
    """Prepend a fresh key to the key file (creating it if need be); the keys already
    there stay below it, retired: they only decrypt. Returns the number of keys now.

    The file is replaced atomically (write aside, fsync, rename) so a crash leaves
    either the old or the new list, never a truncated one that loses a key."""
    existing = _read_keys(path) if path.exists() else []
    keys = [Fernet.generate_key(), *existing]
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(b"# Dbify master keys, newest first: the first encrypts, all decrypt.\n")
        file.write(b"\n".join(keys) + b"\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(aside, path)
    return len(keys)


def load_secret_box(settings: Settings) -> SecretBox:
    """The box for ``settings``: configured keys (comma-separated, newest first), else the
    keys of ``data_dir/master.key``, generated on first use."""
    if settings.master_key is not None:
        keys = [k.strip().encode() for k in settings.master_key.get_secret_value().split(",")]
        return SecretBox([k for k in keys if k])
    path = key_file(settings)
    try:
        return SecretBox(_generated_keys(path))
    except OSError as error:  # a data directory that cannot be made or read, say
        line = os_error_line(error)
        raise SecretBoxError(f"the master key file {path} cannot be used: {line}") from None
