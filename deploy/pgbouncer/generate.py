#!/usr/bin/env python3
"""Write a PgBouncer config for Dbify projects (transaction mode), stdlib only.

    python deploy/pgbouncer/generate.py --upstream db.internal:5432 \
        --user app --listen-port 6432 --pool-size 20 --statement-timeout-ms 10000 \
        > /etc/pgbouncer/pgbouncer.ini

Then point the project at PgBouncer and tell Dbify (per project, or instance-wide with
DBIFY_DATABASE__PGBOUNCER=true):

    PATCH /api/v1/projects/{id}  {"database_url": "postgresql://app:…@bouncer:6432/shop",
                                  "pgbouncer": true, "direct_address": "db.internal:5432"}

``direct_address`` keeps the schema watcher's LISTEN on the database itself (LISTEN
does not survive transaction pooling); without it the schema is polled. PgBouncer 1.18
refuses startup parameters it does not know, so the statement timeout is applied by
``connect_query`` on each server connection here. The same layout runs in the test
suite (tests/fixtures/pgbouncer.py) with Debian's pgbouncer 1.18.
"""

from __future__ import annotations

import argparse
import sys


def render(args: argparse.Namespace) -> str:
    host, _, port = args.upstream.rpartition(":")
    connect_query = ""
    if args.statement_timeout_ms:
        connect_query = f" connect_query='SET statement_timeout = {args.statement_timeout_ms}'"
    return f"""[databases]
; every database of the upstream server, reached as the connecting user
* = host={host} port={port}{connect_query}

[pgbouncer]
listen_addr = {args.listen_addr}
listen_port = {args.listen_port}
unix_socket_dir =
auth_type = {args.auth_type}
auth_file = {args.auth_file}
admin_users = {args.user}
stats_users = {args.user}
; Dbify sets role and claims with set_config(..., true) inside each transaction and
; runs without server-side prepared statements when told the project is pooled here.
pool_mode = transaction
default_pool_size = {args.pool_size}
reserve_pool_size = {max(1, args.pool_size // 4)}
max_client_conn = {args.max_client_conn}
server_reset_query =
ignore_startup_parameters = extra_float_digits
server_tls_sslmode = {args.server_tls}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", required=True, help="host:port of PostgreSQL")
    parser.add_argument("--user", default="postgres", help="admin/stats user of the console")
    parser.add_argument("--listen-addr", default="0.0.0.0")  # noqa: S104 - a server config
    parser.add_argument("--listen-port", type=int, default=6432)
    parser.add_argument(
        "--auth-type", default="scram-sha-256", choices=["scram-sha-256", "md5", "trust", "hba"]
    )
    parser.add_argument("--auth-file", default="/etc/pgbouncer/userlist.txt")
    parser.add_argument("--pool-size", type=int, default=20, help="server connections per db/user")
    parser.add_argument("--max-client-conn", type=int, default=1000)
    parser.add_argument("--statement-timeout-ms", type=int, default=10_000)
    parser.add_argument(
        "--server-tls",
        default="prefer",
        choices=["disable", "allow", "prefer", "require", "verify-full"],
    )
    sys.stdout.write(render(parser.parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
