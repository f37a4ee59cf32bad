"""Background workers: one shape (start/stop/health, batches, backoff), run by
``dbify worker`` or inside ``dbify serve`` in all-in-one mode."""

from dbify.workers.base import Worker
from dbify.workers.request_log import RequestLogWorker

__all__ = ["RequestLogWorker", "Worker"]
