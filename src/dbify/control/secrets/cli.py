"""``dbify secrets new-key | rotate | check``: the master keys and the values they seal.

Rotation, in order: ``new-key`` (a fresh key goes first, the old ones stay as retired
keys that only decrypt); restart every dbify process with the new key list; ``rotate``
(re-seals every stored secret under the newest key); then drop the old key and restart.
Dbify refuses to start while a stored secret cannot be decrypted, so dropping a key
too early is caught at once. Nothing here prints an existing key or a secret.
"""

from __future__ import annotations

import asyncio
import sys

import click
import orjson

from dbify.control.secrets.service import RotationReport, SecretsService
from dbify.control.secrets.store import SealedValueStore
from dbify.metadata import metadata_url, open_metadata_store, run_migrations
from dbify.secrets_box import (
    SecretBoxError,
    add_key_to_file,
    generate_key,
    key_file,
    load_secret_box,
)
from dbify.settings import load_settings

__all__ = ["secrets"]


@click.group()
def secrets() -> None:
    """Master keys and the secrets they encrypt at rest (rotation)."""


@secrets.command("new-key")
@click.option("--print", "print_only", is_flag=True, help="Only print a fresh key; change no file.")
def secrets_new_key(print_only: bool) -> None:
    """Add a fresh master key (newest first); older keys keep decrypting until rotated.

    With DBIFY_MASTER_KEY set (or --print) the key is printed, to be prepended to
    DBIFY_MASTER_KEY; otherwise it is prepended to data_dir/master.key."""
    settings = load_settings()
    if print_only or settings.master_key is not None:
        click.echo(generate_key())
        if settings.master_key is not None:
            click.echo(
                "Prepend it to DBIFY_MASTER_KEY (DBIFY_MASTER_KEY=<new>,<current keys>), "
                "restart every dbify process, then run `dbify secrets rotate`.",
                err=True,
            )
        return
    path = key_file(settings)
    count = add_key_to_file(path)
    click.echo(
        f"Added a new master key to {path} ({count} keys, newest first). Restart every dbify "
        "process using it, then run `dbify secrets rotate`; afterwards the older lines can go."
    )


def _run_service(action: str) -> RotationReport | None:
    settings = load_settings()
    url = metadata_url(settings)

    async def run() -> RotationReport | None:
        box = load_secret_box(settings)
        store = open_metadata_store(url)
        try:
            await run_migrations(store)
            service = SecretsService(SealedValueStore(store.engine), box)
            if action == "rotate":
                return await service.rotate()
            await service.check()
            return None
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except SecretBoxError as error:
        raise click.ClickException(str(error)) from None


@secrets.command("rotate")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
def secrets_rotate(as_json: bool) -> None:
    """Re-encrypt every stored secret under the newest master key (safe to re-run)."""
    report = _run_service("rotate")
    assert report is not None
    if as_json:
        body = {"rotated": report.rotated, "seen": report.seen}
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
        return
    per_table = ", ".join(f"{t} {report.rotated[t]}/{report.seen[t]}" for t in report.seen)
    click.echo(f"Re-encrypted {report.total_rotated} secret(s) under the newest key ({per_table}).")


@secrets.command("check")
def secrets_check() -> None:
    """Exit 1 if a stored secret cannot be decrypted by the configured master key(s)."""
    _run_service("check")
    click.echo("Every stored secret can be decrypted with the configured master key(s).")
