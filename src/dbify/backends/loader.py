"""Builds the configured backend adapters from the settings; the only place that chooses.

Real adapters are imported lazily, so the all-in-one default never imports redis,
aio-pika, aiokafka or clickhouse-driver.
"""

from __future__ import annotations

from pathlib import Path

from dbify.backends.analytics.base import AnalyticsStore
from dbify.backends.embeddings import Embedder
from dbify.backends.events import EventBus, MemoryEventBus
from dbify.backends.queue.base import Queue
from dbify.backends.queue.memory import MemoryQueue
from dbify.backends.search import SearchBackend
from dbify.backends.vectors import VectorStore
from dbify.settings import Settings

__all__ = [
    "build_analytics_store",
    "build_queue",
    "build_search_backends",
    "open_event_bus",
    "search_index_dir",
]


def build_queue(settings: Settings) -> Queue:
    config = settings.analytics
    if config.queue == "memory":
        # As many events as the recorder's buffer, in messages: beyond that (a store
        # slower than the requests) batches go to the on-disk spool, not to memory.
        capacity = max(config.buffer_size // config.batch_size, 10)
        return MemoryQueue(capacity=capacity, claim_idle_seconds=config.claim_idle_seconds)
    if not config.queue_url:
        raise ValueError(f"DBIFY_ANALYTICS__QUEUE_URL is required for the {config.queue} queue")
    if config.queue == "redis":
        from dbify.backends.queue.redis_streams import RedisStreamQueue

        return RedisStreamQueue(
            config.queue_url,
            stream=_redis_stream(config.queue_name),
            claim_idle_seconds=config.claim_idle_seconds,
        )
    if config.queue == "kafka":
        from dbify.backends.queue.kafka import KafkaQueue

        # The group is the topic's: deployments sharing a broker never share a group.
        return KafkaQueue(
            config.queue_url,
            topic=config.queue_name,
            group=f"{config.queue_name}.workers",
            claim_idle_seconds=config.claim_idle_seconds,
        )
    from dbify.backends.queue.rabbitmq import RabbitQueue

    return RabbitQueue(config.queue_url, queue=config.queue_name)


def _redis_stream(name: str) -> str:
    """The stream for ``analytics.queue_name``; the default keeps the stream name
    deployments used before the setting existed (Redis keys use ``:``)."""
    return "dbify:request-log" if name == "dbify.request-log" else name


async def open_event_bus(settings: Settings) -> EventBus:
    """The event bus, connected: in-process, or Redis pub/sub shared by every instance."""
    config = settings.events
    if config.backend == "memory":
        return MemoryEventBus()
    if not config.redis_url:
        raise ValueError("DBIFY_EVENTS__REDIS_URL is required for the redis event bus")
    from dbify.backends.events.redis_pubsub import RedisEventBus

    bus = RedisEventBus(config.redis_url, channel=config.channel)
    await bus.start()
    return bus


def build_analytics_store(settings: Settings) -> AnalyticsStore:
    config = settings.analytics
    if config.store == "clickhouse":
        if not config.clickhouse_url:
            raise ValueError("DBIFY_ANALYTICS__CLICKHOUSE_URL is required for the clickhouse store")
        from dbify.backends.analytics.clickhouse import ClickHouseStore

        return ClickHouseStore(config.clickhouse_url, retention_days=config.retention_days)
    from dbify.backends.analytics.chdb_store import ChdbStore

    return ChdbStore(chdb_directory(settings), retention_days=config.retention_days)


def chdb_directory(settings: Settings) -> Path:
    """Where chDB keeps the request logs (one process's: ``analytics.owner``)."""
    return settings.data_dir / "analytics"


def build_search_backends(
    settings: Settings,
) -> tuple[SearchBackend, VectorStore | None, Embedder | None]:
    """The full-text backend, and the vector store and embedder when one is configured."""
    config = settings.search
    text: SearchBackend
    if config.backend == "elasticsearch":
        if not config.elasticsearch_url:
            raise ValueError("DBIFY_SEARCH__ELASTICSEARCH_URL is required for elasticsearch")
        from dbify.backends.search.elasticsearch import ElasticsearchBackend

        key = config.elasticsearch_api_key
        text = ElasticsearchBackend(
            config.elasticsearch_url, api_key=key.get_secret_value() if key else None
        )
    else:
        from dbify.backends.search.tantivy_index import TantivyBackend

        text = TantivyBackend(search_index_dir(settings) / "text")
    if config.embedder == "none":
        return text, None, None
    embedder: Embedder
    if config.embedder == "openai":
        if not config.embedding_url:
            raise ValueError("DBIFY_SEARCH__EMBEDDING_URL is required for the openai embedder")
        from dbify.backends.embeddings.openai import OpenAiEmbedder

        api_key = config.embedding_api_key
        embedder = OpenAiEmbedder(
            config.embedding_url,
            config.embedding_model,
            api_key=api_key.get_secret_value() if api_key else None,
        )
    else:
        from dbify.backends.embeddings.minilm import MiniLmEmbedder

        embedder = MiniLmEmbedder()
    if config.pgvector_url is not None:
        from dbify.backends.vectors.pgvector import PgVectorStore

        return text, PgVectorStore(config.pgvector_url.get_secret_value()), embedder
    from dbify.backends.vectors.lance import LanceVectorStore

    return text, LanceVectorStore(search_index_dir(settings) / "vectors"), embedder


def search_index_dir(settings: Settings) -> Path:
    """Where this process's embedded search engines keep their indexes."""
    return settings.search.index_dir or settings.data_dir / "search"
