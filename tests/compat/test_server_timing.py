"""``DBIFY_API__SERVER_TIMING=true`` adds a Server-Timing header to data API responses."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.fixtures.server import start_server, stop_server


def test_server_timing_when_enabled(make_database: Callable[..., str]) -> None:
    server = start_server(
        make_database("fixture.sql"),
        env={"DBIFY_API__SERVER_TIMING": "true", "DBIFY_ANALYTICS__ENABLED": "false"},
    )
    try:
        response = httpx.get(
            server.rest_url + "/books?id=eq.5", headers={"apikey": server.service_key}
        )
        assert response.status_code == 200
        name, _, duration = response.headers["server-timing"].partition(";dur=")
        assert name == "total"
        assert float(duration) > 0
    finally:
        stop_server(server)


def test_server_timing_splits_database_time_when_requests_are_logged(
    make_database: Callable[..., str],
) -> None:
    """With request logging on, the pool wait and database time are measured anyway: the
    header reports them next to the total, as the log event does."""
    server = start_server(make_database("fixture.sql"), env={"DBIFY_API__SERVER_TIMING": "true"})
    try:
        response = httpx.get(
            server.rest_url + "/books?id=eq.5", headers={"apikey": server.service_key}
        )
        assert response.status_code == 200
        entries = dict(
            part.strip().split(";dur=") for part in response.headers["server-timing"].split(",")
        )
        assert set(entries) == {"total", "db", "queue"}
        total, db, queue = (float(entries[name]) for name in ("total", "db", "queue"))
        assert 0 < db < total
        assert 0 <= queue < total
    finally:
        stop_server(server)
