"""The one settings tree: every knob Dbify has, with its default and description.

Read once at start-up from ``DBIFY_*`` environment variables (nested with ``__``, e.g.
``DBIFY_DATABASE__POOL_SIZE=20``) and an optional TOML file named by ``DBIFY_CONFIG``,
then passed down. Nothing else in Dbify reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dbify.auth.key_sources import HttpUrlText, JwksDocument


class ServerSettings(BaseModel):
    """The HTTP server."""

    host: str = Field("127.0.0.1", description="Interface the HTTP server listens on.")
    port: int = Field(8000, ge=0, le=65535, description="Port the HTTP server listens on.")
    workers: int = Field(
        1,
        ge=1,
        le=256,
        description="Serving processes sharing the port (more than one needs the scale-out "
        "backends: see `dbify serve --workers`).",
    )
    public_url: str | None = Field(
        None,
        description="Base URL clients use to reach Dbify (for printed and documented URLs); "
        "defaults to http://host:port.",
    )


class DatabaseSettings(BaseModel):
    """Connections to users' databases (per project)."""

    pool_size: int = Field(10, ge=1, le=500, description="Connections per project pool.")
    pool_timeout_seconds: float = Field(
        10.0, gt=0, description="How long a request waits for a free connection before a 504."
    )
    connect_timeout_seconds: float = Field(10.0, gt=0, description="Connection timeout.")
    statement_timeout_ms: int = Field(
        10_000, ge=0, description="Statement timeout per request in ms (0 disables it)."
    )
    pgbouncer: bool = Field(
        False,
        description="The database is reached through PgBouncer in transaction mode: "
        "disable server-side prepared statements.",
    )


class ApiSettings(BaseModel):
    """Defaults of the data API."""

    schemas: tuple[str, ...] = Field(("public",), description="Schemas exposed by default.")
    server_timing: bool = Field(
        False,
        description="Add a Server-Timing header (total time in Dbify) to data API responses; "
        "off by default because every response header costs CPU in the HTTP layer.",
    )
    max_rows: int | None = Field(
        None, ge=1, description="Upper bound on rows a read returns (None: unbounded)."
    )
    anon_role: str | None = Field(
        None,
        description="Database role the anon key runs as (SET LOCAL ROLE). When unset, the "
        "anon key may only read, as the connecting role.",
    )
    max_body_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 beyond)."
    )
    max_write_rows: int = Field(
        10_000, ge=1, description="Most rows one POST/PATCH/PUT body may carry (413 beyond)."
    )
    statement_cache_size: int = Field(
        512,
        ge=0,
        description="Read statements cached per project by request shape (0: no cache).",
    )
    allow_unfiltered_mutations: bool = Field(
        False,
        description="Let PATCH and DELETE without filters change every row (refused by default;"
        " projects of the control plane have their own setting).",
    )


class MetadataSettings(BaseModel):
    """Dbify's own store: users, projects, keys (never the users' databases)."""

    url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of the metadata store: sqlite:///path or "
        "postgresql://...; defaults to a SQLite file data_dir/metadata.db.",
    )
    migrate_on_start: bool = Field(
        True, description="Apply pending migrations when `dbify serve` starts (all-in-one)."
    )


class UsersSettings(BaseModel):
    """Sign-up, sessions and login protection of the dashboard and management API."""

    signup_enabled: bool = Field(True, description="Anyone may create an account.")
    session_hours: float = Field(24 * 7, gt=0, description="Lifetime of a dashboard session.")
    login_attempts_per_minute: int = Field(
        10,
        ge=1,
        description="Failed sign-ins allowed per client address and email per minute "
        "(counted in Redis in scale-out mode: see auth.rate_limit_redis_url).",
    )
    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Mark the session cookies Secure. auto: Secure unless the sign-in came "
        "over plain HTTP to a host other than localhost (browsers drop Secure cookies there,"
        " so plain-HTTP self-hosting could not sign in); always: behind HTTPS; never.",
    )


class ProjectsSettings(BaseModel):
    """How many projects' connection pools one instance keeps open."""

    max_total_connections: int = Field(
        200, ge=1, description="Upper bound on connections to all users' databases together."
    )
    pool_idle_seconds: float = Field(
        300.0,
        gt=0,
        description="Close a project's pool after this long without requests, and the "
        "connections of a pool in use that no request took for this long.",
    )
    retry_after_failure_seconds: float = Field(
        5.0, ge=0, description="After a failed connect, fail fast for this long before retrying."
    )


class AuthSettings(BaseModel):
    """JWTs, CORS and rate limits of the data API (``dbify serve --database-url``; projects
    of the control plane have their own)."""

    jwt_secret: SecretStr | None = Field(
        None, description="Shared secret of HS256/384/512 tokens (e.g. Supabase's JWT secret)."
    )
    jwks: JwksDocument = Field(None, description="A JWKS document (JSON text) of accepted keys.")
    jwks_url: HttpUrlText = Field(None, description="URL of the identity provider's JWKS.")
    oidc_issuer: HttpUrlText = Field(
        None, description="OpenID Connect issuer: keys from its discovery document; iss checked."
    )
    jwt_audience: str | None = Field(None, description="Required `aud` claim, if set.")
    jwt_issuer: str | None = Field(None, description="Required `iss` claim, if set.")
    jwt_role_claim: str = Field(
        "role", description="Path of the role in the claims, e.g. `.app_metadata.role`."
    )
    jwt_leeway_seconds: int = Field(30, ge=0, le=600, description="Clock skew for exp/nbf/iat.")
    jwks_min_refresh_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="A token with an unknown `kid` re-fetches the JWKS at most this often "
        "(instance and project key sets).",
    )
    cors_origins: tuple[str, ...] = Field(("*",), description="Allowed CORS origins (* = any).")
    rate_limit_per_key: float | None = Field(
        None, gt=0, description="Requests per second per API key or token subject (None: off)."
    )
    rate_limit_per_ip: float | None = Field(
        None, gt=0, description="Requests per second per client address (None: off)."
    )
    rate_limit_burst: int = Field(50, ge=1, description="Bucket size of both rate limits.")
    rate_limit_redis_url: str | None = Field(
        None,
        description="Share rate limits between instances through Redis (redis://...); "
        "failed sign-ins are counted there too (else on the Redis event bus, if any).",
    )


class AnalyticsSettings(BaseModel):
    """Request logs: the in-process buffer, the queue, the worker and the analytics store."""

    enabled: bool = Field(True, description="Log every data API request (X-Request-Id too).")
    buffer_size: int = Field(
        100_000, ge=100, description="Requests held in memory before new ones are dropped."
    )
    batch_size: int = Field(500, ge=1, description="Events per queue message.")
    flush_seconds: float = Field(1.0, gt=0, description="Longest an event waits in memory.")
    spool_max_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="On-disk spool used while the queue is down."
    )
    ip_anonymisation: Literal["none", "truncate", "hash", "drop"] = Field(
        "truncate", description="How client addresses are stored (truncate: /24 and /48)."
    )
    retention_days: int = Field(
        30, ge=1, description="Days request logs are kept (TTL); projects may keep fewer."
    )
    retention_interval_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often the request-log worker deletes logs past each project's "
        "log_retention_days (and, on ClickHouse < 19.6, day partitions past retention_days).",
    )
    queue: Literal["memory", "redis", "rabbitmq", "kafka"] = Field(
        "memory", description="Request-log queue: in-process, Redis Streams, RabbitMQ or Kafka."
    )
    queue_url: str | None = Field(
        None,
        description="redis://…, amqp://… or kafka://host:port[,host:port] for the broker queues.",
    )
    queue_name: str = Field(
        "dbify.request-log",
        min_length=1,
        description="Redis stream / RabbitMQ queue / Kafka topic name (several deployments "
        "on one broker).",
    )
    claim_idle_seconds: float = Field(
        30.0, gt=0, description="Redeliver a message left unacked this long (dead worker)."
    )
    store: Literal["chdb", "clickhouse"] = Field(
        "chdb", description="Analytics store: embedded chDB (data_dir/analytics) or a server."
    )
    clickhouse_url: str | None = Field(
        None, description="clickhouse://user:password@host:9000/db for the server store."
    )
    worker_enabled: bool = Field(
        True, description="Run the request-log worker inside `dbify serve` (all-in-one)."
    )
    worker_batch_size: int = Field(200, ge=1, description="Queue messages per worker write.")
    worker_flush_seconds: float | None = Field(
        None,
        gt=0,
        description="Longest the worker gathers messages for one write (default: 5 times "
        "flush_seconds, at most 5 s). Fewer, larger writes leave the store less merging.",
    )

    @property
    def worker_flush(self) -> float:
        """``worker_flush_seconds``, or its default."""
        if self.worker_flush_seconds is not None:
            return self.worker_flush_seconds
        return min(5 * self.flush_seconds, 5.0)


class SchemaWatchSettings(BaseModel):
    """Noticing schema changes in projects' databases (``dbify.schema_watch``)."""

    enabled: bool = Field(True, description="Watch every project's schema inside `dbify serve`.")
    poll_interval_seconds: float = Field(
        10.0, gt=0, description="How often the catalog fingerprint is compared (both modes)."
    )
    debounce_seconds: float = Field(
        0.3, ge=0, description="Quiet time that ends a burst of DDL (one change per burst)."
    )
    max_debounce_seconds: float = Field(
        5.0, gt=0, description="Longest a burst is held before the schema is refreshed anyway."
    )
    dashboard_url: str | None = Field(
        None, description="Base URL of the dashboard for links in emails (default: public URL)."
    )


class MailSettings(BaseModel):
    """Outgoing email (schema-change notices)."""

    backend: Literal["console", "smtp"] = Field(
        "console", description="console prints messages (development); smtp sends them."
    )
    sender: str = Field("dbify@localhost", description="From address.")
    smtp_host: str = Field("localhost", description="SMTP relay host.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP relay port.")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        "starttls", description="none, STARTTLS (587) or implicit TLS (465)."
    )
    smtp_username: str | None = Field(None, description="SMTP login, if the relay needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_timeout_seconds: float = Field(10.0, gt=0, description="Timeout per SMTP attempt.")
    smtp_retries: int = Field(2, ge=0, description="Further attempts after a failed send.")


class WebhookSettings(BaseModel):
    """Webhook delivery (``control/webhooks``): the worker, retries and target policy."""

    worker_enabled: bool = Field(True, description="Deliver webhooks inside `dbify serve`.")
    timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one delivery attempt.")
    retry_window_seconds: float = Field(
        24 * 3600.0, gt=0, description="Retry a failing delivery this long, then dead-letter it."
    )
    backoff_initial_seconds: float = Field(5.0, gt=0, description="Delay before the 2nd attempt.")
    backoff_max_seconds: float = Field(3600.0, gt=0, description="Longest delay between tries.")
    poll_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest idle wait between two looks for work. The worker otherwise "
        "wakes when this process queues a message, a Redis event bus announces one, an "
        "attempt ends, or the earliest pending retry is due; this bounds how late a "
        "message queued without such a signal is sent.",
    )
    max_in_flight: int = Field(64, ge=1, description="Deliveries one worker sends at once.")
    per_endpoint_in_flight: int = Field(
        4, ge=1, description="Deliveries in flight per endpoint (a slow one cannot hog the rest)."
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="Hosts or CIDRs webhooks, cron HTTP actions and projects' JWKS/OIDC key "
        "sources may reach although they are loopback/private/link-local (refused by default "
        "against SSRF), e.g. 127.0.0.1/32.",
    )


class SchedulerSettings(BaseModel):
    """Cron jobs (``control/cron``): `dbify scheduler`, or in-process in `dbify serve`."""

    enabled: bool = Field(True, description="Run the scheduler inside `dbify serve`.")
    tick_seconds: float = Field(
        0.5,
        gt=0,
        description="Pause before looking again when a job was due but not started at once "
        "(another scheduler's claim in progress). Jobs otherwise start at their due time: "
        "the scheduler sleeps until then, or until a job or manual run is added or changed.",
    )
    idle_poll_seconds: float = Field(
        10.0,
        gt=0,
        description="Longest sleep between two looks at the store: how late a change made "
        "by another process reaches this scheduler when not announced on a Redis event bus.",
    )
    missed_grace_seconds: float = Field(
        30.0, ge=0, description="An occurrence later than this is 'missed' (missed-run policy)."
    )
    output_max_chars: int = Field(2000, ge=100, description="Output kept per run.")


class SearchSettings(BaseModel):
    """Full-text and semantic search over projects' tables (``dbify.search``)."""

    enabled: bool = Field(True, description="Serve /p/{id}/search/v1 and keep indexes in sync.")
    backend: Literal["tantivy", "elasticsearch"] = Field(
        "tantivy", description="Full-text engine: embedded tantivy (data_dir/search) or a server."
    )
    index_dir: Path | None = Field(
        None,
        description="Where the embedded engines keep this process's indexes (default "
        "data_dir/search); each `dbify serve --workers` worker gets its own below it.",
    )
    elasticsearch_url: str | None = Field(
        None, description="http(s)://… of Elasticsearch/OpenSearch for the elasticsearch backend."
    )
    elasticsearch_api_key: SecretStr | None = Field(None, description="Its API key, if any.")
    embedder: Literal["none", "minilm", "openai"] = Field(
        "none",
        description="Embeddings for semantic search: none, the bundled all-MiniLM-L6-v2 "
        "(dbify[semantic]) or an OpenAI-compatible endpoint.",
    )
    embedding_url: str | None = Field(
        None, description="Base URL of the OpenAI-compatible API (…/v1) for the openai embedder."
    )
    embedding_model: str = Field("text-embedding-3-small", description="Model name sent.")
    embedding_api_key: SecretStr | None = Field(None, description="Bearer key of that API.")
    sync_interval_seconds: float = Field(
        30.0, gt=0, description="How often every index catches up with its table."
    )
    push_debounce_seconds: float = Field(
        0.2,
        ge=0,
        description="Wait after a data API write before re-indexing its rows "
        "(a burst becomes one pass); direct DB writes wait for the periodic sync.",
    )
    pgvector_url: SecretStr | None = Field(
        None,
        description="postgresql://… of a Dbify-owned database with pgvector: store "
        "vectors there instead of LanceDB (never the user's database).",
    )
    batch_size: int = Field(1000, ge=1, description="Rows per backfill batch.")
    max_candidates: int = Field(
        1000, ge=10, description="Matches re-checked against the database per search."
    )


class EventsSettings(BaseModel):
    """The internal event bus: in-process (all-in-one) or Redis pub/sub (scale-out, so
    key revocations, project changes and schema refreshes reach every instance)."""

    backend: Literal["memory", "redis"] = Field(
        "memory", description="memory (one process) or redis (every instance hears cache.*)."
    )
    redis_url: str | None = Field(None, description="redis://… for the redis event bus.")
    channel: str = Field("dbify:events", description="Redis pub/sub channel of the bus.")


class TracingSettings(BaseModel):
    """OpenTelemetry traces (``dbify.tracing``; needs the ``otel`` extra). The exporter
    also reads the standard ``OTEL_EXPORTER_OTLP_*`` variables (headers, timeout...)."""

    enabled: bool = Field(
        False, description="Export a span per data API and management request (OTLP/HTTP)."
    )
    otlp_endpoint: str | None = Field(
        None,
        description="OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces (default: "
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT or localhost:4318).",
    )
    service_name: str = Field("dbify", min_length=1, description="The spans' service.name.")
    sample_ratio: float = Field(
        1.0,
        ge=0,
        le=1,
        description="Share of the traces started here that are kept (a caller's traceparent "
        "decides for the traces it started).",
    )
    record_sql: bool = Field(
        True,
        description="Put the SQL in database spans (identifiers and $n placeholders; values "
        "are bind parameters and never recorded).",
    )


class Settings(BaseSettings):
    """Everything configurable. See ``dbify config show`` for the effective values."""

    model_config = SettingsConfigDict(
        env_prefix="DBIFY_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Field(Path(".dbify"), description="Where Dbify keeps its local state.")
    log_level: str = Field("info", description="Log level: debug, info, warning, error.")
    server: ServerSettings = Field(default_factory=ServerSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    metadata: MetadataSettings = Field(default_factory=MetadataSettings)
    users: UsersSettings = Field(default_factory=UsersSettings)
    projects: ProjectsSettings = Field(default_factory=ProjectsSettings)
    schema_watch: SchemaWatchSettings = Field(default_factory=SchemaWatchSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    analytics: AnalyticsSettings = Field(default_factory=AnalyticsSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    events: EventsSettings = Field(default_factory=EventsSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    master_key: SecretStr | None = Field(
        None,
        description="Fernet key(s) that encrypt secrets at rest, comma-separated, newest first "
        "(older ones still decrypt; `dbify secrets new-key|rotate`); if unset, the keys of "
        "data_dir/master.key (generated, one a line, newest first).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("DBIFY_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


class InvalidSettings(ValueError):
    """Settings that do not validate: one line per variable, never its value (a value
    may be a secret or a URL with a password)."""


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; ``overrides`` (from the command line) win."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = [
            "DBIFY_"
            + "__".join(str(part).upper() for part in problem["loc"])
            + f": {problem['msg']}"
            for problem in error.errors()
        ]
        raise InvalidSettings("\n".join(lines)) from None


def redact_url(url: str) -> str:
    """The URL without its password.

    >>> redact_url("postgresql://bob:s3cret@db:5432/shop")
    'postgresql://bob:***@db:5432/shop'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _redact_urls(value: Any) -> Any:
    # Plain-string URL settings (broker, Redis, ClickHouse...) may carry a password.
    if isinstance(value, dict):
        return {key: _redact_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_urls(item) for item in value]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value


def describe_settings(settings: Settings) -> dict[str, Any]:
    """The effective values with secrets masked (secret fields, and the password of
    any URL), for ``dbify config show``."""
    described: dict[str, Any] = _redact_urls(settings.model_dump(mode="json"))
    return described
