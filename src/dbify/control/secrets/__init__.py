"""Secrets at rest: which metadata columns hold sealed values, their check and rotation.

``dbify secrets new-key`` / ``rotate`` (``cli.py``) and the start-up check in
``open_control_plane`` use ``SecretsService``; sealing itself is ``dbify.secrets_box``.
"""

from dbify.control.secrets.service import (
    RotationReport,
    SecretsService,
    UnreadableSecret,
    check_sealed_values,
)
from dbify.control.secrets.store import SEALED_COLUMNS, SealedColumn, SealedValueStore

__all__ = [
    "SEALED_COLUMNS",
    "RotationReport",
    "SealedColumn",
    "SealedValueStore",
    "SecretsService",
    "UnreadableSecret",
    "check_sealed_values",
]
