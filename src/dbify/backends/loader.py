"""Builds the configured backend adapters from the settings; the only place that chooses.

Real adapters are imported lazily, so the all-in-one default never imports redis,
aio-pika or clickhouse-driver.
"""

from __future__ import annotations

from dbify.backends.analytics.base import AnalyticsStore
from dbify.backends.queue.base import Queue
from dbify.backends.queue.memory import MemoryQueue
from dbify.settings import Settings

__all__ = ["build_analytics_store", "build_queue"]


def build_queue(settings: Settings) -> Queue:
    config = settings.analytics
    if config.queue == "memory":
        return MemoryQueue(claim_idle_seconds=config.claim_idle_seconds)
    if not config.queue_url:
        raise ValueError(f"DBIFY_ANALYTICS__QUEUE_URL is required for the {config.queue} queue")
    if config.queue == "redis":
        from dbify.backends.queue.redis_streams import RedisStreamQueue

        return RedisStreamQueue(config.queue_url, claim_idle_seconds=config.claim_idle_seconds)
    from dbify.backends.queue.rabbitmq import RabbitQueue

    return RabbitQueue(config.queue_url)


def build_analytics_store(settings: Settings) -> AnalyticsStore:
    config = settings.analytics
    if config.store == "clickhouse":
        if not config.clickhouse_url:
            raise ValueError("DBIFY_ANALYTICS__CLICKHOUSE_URL is required for the clickhouse store")
        from dbify.backends.analytics.clickhouse import ClickHouseStore

        return ClickHouseStore(config.clickhouse_url, retention_days=config.retention_days)
    from dbify.backends.analytics.chdb_store import ChdbStore

    return ChdbStore(settings.data_dir / "analytics", retention_days=config.retention_days)
