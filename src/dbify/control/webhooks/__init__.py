"""Webhooks: per-project endpoints, signed deliveries with retries, and their log.

    signing.py    Standard Webhooks secrets and signature headers
    store.py      endpoints, the delivery queue (leased rows) and the attempt log
    service.py    rules, and fan-out of an event into queued messages
    routes.py     /api/v1/projects/{id}/webhooks
    dispatch.py   data-plane row changes and schema changes → service.publish

Delivery itself is ``dbify.workers.webhooks.WebhookWorker``.
"""

__all__: list[str] = []
