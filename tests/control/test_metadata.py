"""The metadata store: migrations match the tables, on both backends; the secret box."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from dbify.metadata import open_metadata_store, run_migrations
from dbify.metadata.tables import metadata
from dbify.secrets_box import SecretBox, SecretBoxError, load_secret_box
from dbify.settings import Settings

pytestmark = pytest.mark.anyio


async def test_migrations_create_exactly_the_tables(metadata_url: str) -> None:
    store = open_metadata_store(metadata_url)
    try:
        await run_migrations(store)
        await run_migrations(store)  # idempotent

        def columns(conn: sa.Connection) -> dict[str, set[str]]:
            inspector = sa.inspect(conn)
            return {
                t: {c["name"] for c in inspector.get_columns(t)}
                for t in inspector.get_table_names()
                if t != "alembic_version"
            }

        async with store.engine.connect() as conn:
            found = await conn.run_sync(columns)
        expected = {name: {c.name for c in t.columns} for name, t in metadata.tables.items()}
        assert found == expected
    finally:
        await store.close()


def test_secret_box_round_trip_and_rotation() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    # A password long enough that base64 ciphertext cannot contain it by chance.
    url = "postgresql://u:Tr0ub4dor-and-3-horses@h/db"
    sealed = SecretBox([old]).encrypt(url)
    assert "Tr0ub4dor-and-3-horses" not in sealed
    rotating = SecretBox([new, old])
    assert rotating.decrypt(sealed) == url
    resealed = rotating.rotate(sealed)
    assert SecretBox([new]).decrypt(resealed) == url
    with pytest.raises(SecretBoxError):
        SecretBox([new]).decrypt(sealed)
    with pytest.raises(SecretBoxError):
        SecretBox([b"not a key"])


def test_master_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    sealed = load_secret_box(settings).encrypt("x")
    path = tmp_path / "d" / "master.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret_box(settings).decrypt(sealed) == "x"
    configured = Settings(data_dir=tmp_path / "e", master_key=Fernet.generate_key().decode())
    load_secret_box(configured).encrypt("y")
    assert not (tmp_path / "e" / "master.key").exists()
