"""Callbacks a metadata store calls after writes made in this process.

A store whose writes can make work due (a cron job changed, a webhook message queued)
lets the process's waiting worker hear of them instead of polling: ``listen`` registers
a callback, the store's writes call ``_changed``. Listeners are kept per engine, not per
store object: the management API builds a store per request, and the worker's store is
another object on the same engine. Other processes hear of such writes through the
event bus, never through this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar
from weakref import WeakKeyDictionary

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["NotifiesWrites"]

Listener = Callable[[], None]


class NotifiesWrites:
    """Mixin of a store on ``self._engine``; each subclass has listeners of its own."""

    _engine: AsyncEngine
    _listeners: ClassVar[WeakKeyDictionary[Engine, list[Listener]]] = WeakKeyDictionary()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls._listeners = WeakKeyDictionary()

    def listen(self, callback: Listener) -> None:
        """Call ``callback`` after each of this process's writes that may make work due."""
        self._listeners.setdefault(self._engine.sync_engine, []).append(callback)

    def unlisten(self, callback: Listener) -> None:
        callbacks = self._listeners.get(self._engine.sync_engine, [])
        if callback in callbacks:
            callbacks.remove(callback)

    def _changed(self) -> None:
        for callback in list(self._listeners.get(self._engine.sync_engine, ())):
            callback()
