"""The request log event: one record per data API request, and how it is derived.

``RequestLog`` is what flows through the queue into the analytics store. It never holds
a secret: the key appears only as its id and role, and the query string is reduced to
its *shape* (``shape_of_query``), with filter values removed. Client addresses are
anonymised according to the settings (``anonymise_ip``) before an event is built.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import marshal
from collections.abc import Callable, Iterator
from dataclasses import asdict, astuple, dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

import orjson

__all__ = [
    "ENTRY_FIELDS",
    "ROW_FIELDS",
    "IpAnonymisation",
    "RequestLog",
    "anonymise_ip",
    "count_events",
    "decode_batch",
    "encode_batch",
    "encode_entries",
    "encode_rows",
    "entries_of",
    "entry_columns",
    "entry_rows",
    "error_code_of",
    "event_values",
    "event_values_v2",
    "message_values",
    "shape_of_query",
    "target_of_path",
]

IpAnonymisation = Literal["none", "truncate", "hash", "drop"]

# Query parameters whose value is grammar (not user data) and is kept verbatim.
_KEPT = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"})
# Logical groups whose whole value is a tree of filters: it is replaced as one.
_GROUPS = frozenset({"or", "and", "not.or", "not.and"})


@dataclass(frozen=True, slots=True)
class RequestLog:
    """One data API request as the analytics store keeps it."""

    event_id: str
    timestamp_us: int
    project_id: str
    request_id: str
    method: str
    path: str
    target: str
    query_shape: str
    status: int
    error_code: str
    duration_us: int
    db_us: int
    rows: int
    response_bytes: int
    key_id: str
    role: str
    client_ip: str
    user_agent: str
    # Last, with a default: added after the first release (events of older messages and
    # tables have none), see ``backends.analytics.base.MIGRATIONS``.
    queue_us: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestLog:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def encode_batch(events: list[RequestLog]) -> bytes:
    """One queue message: a JSON array of events.

    orjson serialises the dataclasses natively (~1.5 µs an event); going through
    ``asdict`` first cost ~40 µs an event, which showed in the data API's throughput.
    """
    return orjson.dumps(events)


# A version-3 message: {"v":3,"n":<events>,"rows":[[...ROW_FIELDS...], ...]}. The serving
# process builds rows from the recorder's tuples and serialises a whole batch with one
# orjson call; the consumer (worker, chDB child) derives the remaining event fields.
# Version 2 (still read: a spool may hold it across an upgrade) had the raw Server-Timing
# header where version 3 has ``db_us``, and no ``queue_us``.
ROW_FIELDS: tuple[str, ...] = (
    "event_id",
    "timestamp_us",
    "project_id",
    "request_id",
    "method",
    "path",
    "query_shape",
    "status",
    "error_code",
    "duration_us",
    "db_us",
    "queue_us",
    "content_range",  # raw Content-Range header -> rows
    "response_bytes",
    "key_id",
    "role",
    "client_ip",
    "user_agent",
)
_ROWS_PREFIXES = (b'{"v":3,"n":', b'{"v":2,"n":')
_ROWS_PREFIX_LENGTH = len(_ROWS_PREFIXES[0])


# What the recorder keeps of a request (``RequestRecorder.record``): ``ROW_FIELDS`` before
# the last derivations, which ``entry_rows`` makes. Nothing secret (the key is its id and
# role, the client address is anonymised), but the query string is still raw.
ENTRY_FIELDS: tuple[str, ...] = (
    "event_id",
    "timestamp_us",
    "project_id",
    "request_id",
    "method",
    "path",
    # bytes, raw: user data until entry_rows reduces it to its shape; or a str, the data
    # plane's masked query (grammar.raw_shape.masked_query), its operands left out
    "query_string",
    "status",
    "error_code",
    "duration_ns",
    "db_ns",
    "queue_ns",
    "content_range",  # bytes
    "response_bytes",
    "key_id",
    "role",
    "client_ip",
    "user_agent",
)
# An entries message: this prefix, the count, a newline, then ``marshal`` of the entries.
# It only travels inside one process tree (the in-process queue, the pipe to the chDB
# child): marshal is fast (~0.2 µs an entry against ~2.5 µs for rows and JSON) but not
# meant for data from outside, so a consumer decodes it only when told the message is
# its own (``trusted``); spooled and brokered messages are always version-3 JSON.
_ENTRIES_PREFIX = b"\x00dbify-entries-1 "


def entry_rows(entries: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Recorder entries as version-3 rows: the query's shape, µs, the range as text."""
    return [
        [
            event_id,
            started_us,
            project_id,
            request_id,
            method,
            path,
            _shape_of_raw(query),
            status,
            error_code,
            duration_ns // 1000,
            db_ns // 1000,
            queue_ns // 1000,
            span.decode("latin-1"),
            response_bytes,
            key_id,
            role,
            client_ip,
            user_agent[:512],
        ]
        for (
            event_id,
            started_us,
            project_id,
            request_id,
            method,
            path,
            query,
            status,
            error_code,
            duration_ns,
            db_ns,
            queue_ns,
            span,
            response_bytes,
            key_id,
            role,
            client_ip,
            user_agent,
        ) in entries
    ]


def entry_columns(entries: list[tuple[Any, ...]]) -> list[list[Any]]:
    """Recorder entries as event columns (``RequestLog`` field order), one pass per
    column: what a columnar insert wants, for about half the Python time of building
    rows (``entry_rows`` then ``event_values``) and transposing them."""
    if not entries:
        return [[] for _ in RequestLog.__dataclass_fields__]
    (event_id, started_us, project_id, request_id, method, path, query, status, error_code,
     duration_ns, db_ns, queue_ns, span, response_bytes, key_id, role, client_ip,
     user_agent) = (list(column) for column in zip(*entries, strict=True))  # fmt: skip
    return [
        event_id,
        started_us,
        project_id,
        request_id,
        method,
        _derived(_root_as_slash, path),
        _derived(target_of_path, path),
        _derived(_shape_of_raw, query),
        status,
        error_code,
        [ns // 1000 for ns in duration_ns],
        [ns // 1000 for ns in db_ns],
        _derived(_rows_of_raw_range, span),
        response_bytes,
        key_id,
        role,
        client_ip,
        _derived(_at_most_512, user_agent),
        [ns // 1000 for ns in queue_ns],
    ]


def _derived(derive: Callable[[Any], Any], column: list[Any]) -> list[Any]:
    """``derive`` of each value of ``column``, computed once per distinct value: a batch
    repeats a few paths, shapes, ranges and agents thousands of times, and a dict lookup
    mapped in C costs a fraction of a Python call per value."""
    known = {value: derive(value) for value in set(column)}
    return list(map(known.__getitem__, column))


def _root_as_slash(path: str) -> str:
    return path or "/"


def _at_most_512(user_agent: str) -> str:
    return user_agent[:512]


def _shape_of_raw(query: bytes | str) -> str:
    """The shape of an entry's query: raw (bytes) or masked by the data plane (a str)."""
    if isinstance(query, str):
        return _shape_of_masked(query)
    return shape_of_query(query.decode("latin-1")) if query else ""


@functools.lru_cache(maxsize=4096)
def _shape_of_masked(masked: str) -> str:
    """A masked query's shape: the same as the raw query's (an operand ``raw_shape``
    masks is plain, never quoted, and a filter with it has an operator), and requests of
    one shape share it, so it is derived once (~3 µs a request otherwise).

    >>> _shape_of_masked("id=eq.&select=id") == shape_of_query("id=eq.5&select=id")
    True
    >>> _shape_of_masked("a=not.gt.&limit=5")
    'a=not.gt.?&limit=5'
    """
    return shape_of_query(masked)


@functools.lru_cache(maxsize=1024)
def _rows_of_raw_range(content_range: bytes) -> int:
    return rows_of_range(content_range.decode("latin-1"))


def encode_entries(entries: list[tuple[Any, ...]]) -> bytes:
    """An entries message (in-process only, see ``_ENTRIES_PREFIX``)."""
    return b"%s%d\n%s" % (_ENTRIES_PREFIX, len(entries), marshal.dumps(entries))


def entries_of(body: bytes, *, trusted: bool = False) -> list[tuple[Any, ...]] | None:
    """The entries of an entries message from this process tree (``trusted``); None
    for any other message."""
    if not (trusted and body.startswith(_ENTRIES_PREFIX)):
        return None
    return _entries_of(body)


def _entries_of(body: bytes) -> list[tuple[Any, ...]]:
    # Only reached for trusted messages (entries_of and message_values check): never
    # for data from outside.
    entries = marshal.loads(body[body.index(b"\n") + 1 :])  # noqa: S302
    if not isinstance(entries, list):
        raise ValueError("not an entries message")
    return entries


def encode_rows(rows: list[list[Any]]) -> bytes:
    """One version-3 queue message of ``ROW_FIELDS`` rows (one orjson call, C speed)."""
    return orjson.dumps({"v": 3, "n": len(rows), "rows": rows})


def count_events(body: bytes, *, trusted: bool = False) -> int | None:
    """Events in a message without decoding it, or None when it is not ours.
    Entries messages count only when ``trusted`` (they came from this process tree).

    >>> count_events(encode_rows([])), count_events(b"[]"), count_events(b"{}")
    (0, 0, None)
    >>> body = encode_entries([("e1",), ("e2",)])
    >>> count_events(body), count_events(body, trusted=True)
    (None, 2)
    """
    if body.startswith(_ROWS_PREFIXES):
        count = body[_ROWS_PREFIX_LENGTH : body.find(b",", _ROWS_PREFIX_LENGTH)]
        return int(count) if count.isdigit() else None
    if body.startswith(_ENTRIES_PREFIX):
        count = body[len(_ENTRIES_PREFIX) : body.find(b"\n")]
        return int(count) if trusted and count.isdigit() else None
    if body == b"[]" or (body.startswith(b'[{"event_id":') and body.endswith(b"}]")):
        # "event_id": occurs once per event and never inside a JSON string (its quotes
        # would be escaped), so counting it counts events.
        return body.count(b'"event_id":')
    return None


def decode_batch(body: bytes, *, trusted: bool = False) -> list[RequestLog]:
    """The events of a message: versions 2 and 3 (rows), 1 (a JSON array of events) and,
    when ``trusted``, an entries message."""
    return [RequestLog(*values) for values in message_values(body, trusted=trusted)]


def message_values(body: bytes, *, trusted: bool = False) -> Iterator[list[Any]]:
    """The event values (``RequestLog`` field order) of one message (see ``decode_batch``).
    Raises ``ValueError`` (or ``orjson.JSONDecodeError``, ``KeyError``, ``TypeError``)
    for a message it cannot read."""
    if body.startswith(_ENTRIES_PREFIX):
        if not trusted:
            raise ValueError("an entries message from outside this process")
        return map(event_values, entry_rows(_entries_of(body)))
    data = orjson.loads(body)
    if isinstance(data, dict):
        return map(event_values if data["v"] == 3 else event_values_v2, data["rows"])
    return (list(astuple(RequestLog.from_dict(item))) for item in data)


def event_values(row: list[Any]) -> list[Any]:
    """A version-3 ``ROW_FIELDS`` row as the values of a ``RequestLog``, in field order."""
    (event_id, timestamp_us, project_id, request_id, method, path, query_shape, status,
     error_code, duration_us, db_us, queue_us, content_range, response_bytes, key_id, role,
     client_ip, user_agent) = row  # fmt: skip
    return [
        event_id,
        timestamp_us,
        project_id,
        request_id,
        method,
        path or "/",
        target_of_path(path),
        query_shape,
        status,
        error_code,
        duration_us,
        db_us,
        rows_of_range(content_range),
        response_bytes,
        key_id,
        role,
        client_ip,
        user_agent,
        queue_us,
    ]


def event_values_v2(row: list[Any]) -> list[Any]:
    """A version-2 row (raw ``Server-Timing`` instead of ``db_us``, no ``queue_us``)."""
    (event_id, timestamp_us, project_id, request_id, method, path, query_shape, status,
     error_code, duration_us, server_timing, content_range, response_bytes, key_id, role,
     client_ip, user_agent) = row  # fmt: skip
    return event_values(
        [event_id, timestamp_us, project_id, request_id, method, path, query_shape, status,
         error_code, duration_us, db_time_us(server_timing), 0, content_range, response_bytes,
         key_id, role, client_ip, user_agent]
    )  # fmt: skip


@functools.lru_cache(maxsize=1024)
def rows_of_range(content_range: str) -> int:
    """Rows from ``Content-Range: 0-9/100`` (10) or ``*/0`` (0).

    >>> rows_of_range("0-9/100"), rows_of_range("*/5"), rows_of_range("")
    (10, 0, 0)
    """
    span = content_range.partition("/")[0]
    first, sep, last = span.partition("-")
    if not sep:
        return 0
    try:
        return int(last) - int(first) + 1
    except ValueError:
        return 0


def db_time_us(server_timing: str) -> int:
    """The ``db;dur=`` entry of ``Server-Timing`` in µs, when the pipeline reports one.

    >>> db_time_us("db;dur=1.5, total;dur=2"), db_time_us("total;dur=2")
    (1500, 0)
    """
    for part in server_timing.split(","):
        name, _, rest = part.strip().partition(";dur=")
        if name == "db" and rest:
            try:
                return int(float(rest) * 1000)
            except ValueError:
                return 0
    return 0


def shape_of_query(query_string: str) -> str:
    """The query string with filter values removed, keeping operators and grammar.

    >>> shape_of_query("select=id,name&status=eq.paid&age=gt.30&limit=5")
    'select=id,name&status=eq.?&age=gt.?&limit=5'
    >>> shape_of_query("or=(a.eq.1,b.eq.2)&name=not.ilike.*bob*")
    'or=?&name=not.ilike.?'
    >>> shape_of_query("")
    ''
    """
    if not query_string:
        return ""
    # Runs once per logged request (publisher side): unquoting is skipped when nothing
    # is quoted, which is nearly always (2-3x faster on typical query strings).
    plain = "%" not in query_string and "+" not in query_string
    parts: list[str] = []
    for pair in query_string.split("&"):
        name, sep, value = pair.partition("=")
        if not plain:
            name = unquote_plus(name)
        if not sep:
            parts.append(name)
        elif name in _KEPT:
            parts.append(pair if plain else f"{name}={unquote_plus(value)}")
        elif name in _GROUPS:
            parts.append(f"{name}=?")
        else:
            head, dot, rest = value.partition(".")
            if not dot:
                parts.append(f"{name}=?")
            elif head == "not":
                parts.append(f"{name}=not.{rest.partition('.')[0]}.?")
            else:
                parts.append(f"{name}={head}.?")
    return "&".join(parts)


@functools.lru_cache(maxsize=4096)
def target_of_path(path: str) -> str:
    """The table, view or ``rpc/function`` a data path names ('' for the root).

    >>> target_of_path("/orders"), target_of_path("/rpc/add"), target_of_path("/")
    ('orders', 'rpc/add', '')
    """
    stripped = path.strip("/")
    if stripped.startswith("rpc/"):
        return "rpc/" + unquote_plus(stripped[4:].partition("/")[0])
    return unquote_plus(stripped.partition("/")[0])


def error_code_of(body: bytes) -> str:
    """The PostgREST ``code`` of an error body, '' when it has none.

    >>> error_code_of(b'{"code":"PGRST116","message":"..."}'), error_code_of(b"[]")
    ('PGRST116', '')
    """
    if not body.startswith(b"{"):
        return ""
    try:
        code = orjson.loads(body).get("code")
    except orjson.JSONDecodeError:
        return ""
    return str(code) if code is not None else ""


def anonymise_ip(address: str, mode: IpAnonymisation, salt: str = "") -> str:
    """The client address as the settings allow it to be stored.

    ``truncate`` zeroes the host part (/24 for IPv4, /48 for IPv6), ``hash`` keeps a
    salted digest (joins requests without revealing the address), ``drop`` keeps nothing.

    >>> anonymise_ip("203.0.113.77", "truncate"), anonymise_ip("2001:db8:1:2::7", "truncate")
    ('203.0.113.0', '2001:db8:1::')
    >>> anonymise_ip("203.0.113.77", "drop"), len(anonymise_ip("203.0.113.77", "hash"))
    ('', 16)
    """
    if mode == "none" or not address:
        return address
    if mode == "drop":
        return ""
    return _anonymised(address, mode, salt)


@functools.lru_cache(maxsize=4096)
def _anonymised(address: str, mode: IpAnonymisation, salt: str) -> str:
    """Memoised: clients repeat, and ``ipaddress`` parsing costs ~30 µs a call."""
    if mode == "hash":
        return hashlib.sha256((salt + address).encode()).hexdigest()[:16]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return ""
    prefix = 24 if parsed.version == 4 else 48
    network = ipaddress.ip_network(f"{parsed}/{prefix}", strict=False)
    return str(network.network_address)
