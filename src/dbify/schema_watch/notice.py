"""Email about a schema change: one message per change (burst) to the project's recipients.

``SchemaChangeMailer`` subscribes to ``schema.changed`` events; for each it asks who
should hear about it (owners unless opted out, plus subscribed members: see
``control/notifications``), writes a plain-text and an HTML body listing the changes,
breaking ones first (the order ``diff_snapshots`` gives), with a link to the project's
change log in the dashboard, and hands it to the ``MailBackend`` (in ``dbify serve``
the retrying ``workers.mail.MailWorker``). A failed hand-over is logged, never raised
into the bus.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from dbify.backends.events import Event
from dbify.backends.mail import MailBackend, MailError, OutgoingMail

__all__ = ["Recipients", "SchemaChangeMailer", "compose_notice"]

# The emails to tell about a change of the given project.
Recipients = Callable[[str], Awaitable[list[str]]]

_log = logging.getLogger("dbify.schema_watch")


def _line(change: Mapping[str, Any]) -> str:
    words = str(change["kind"]).replace("_", " ")
    before, after = change.get("before"), change.get("after")
    detail = "" if before is None and after is None else f" ({before or '-'} -> {after or '-'})"
    return f"{words}: {change['subject']}{detail}"


def compose_notice(payload: Mapping[str, Any], to: Sequence[str], link: str) -> OutgoingMail:
    """The message for one ``schema.changed`` event payload."""
    changes: list[Mapping[str, Any]] = list(payload["changes"])
    breaking = [c for c in changes if c["breaking"]]
    others = [c for c in changes if not c["breaking"]]
    name = payload["project_name"]
    count = f"{len(changes)} change{'s' if len(changes) != 1 else ''}"
    subject = f"[Dbify] Schema of {name} changed: {count}"
    if breaking:
        subject += f", {len(breaking)} breaking"
    when = payload["detected_at"]
    intro = f"changed at {when}. The API already serves the new schema."
    text_parts = [f"The schema of project {name} ({payload['project_id']}) {intro}", ""]
    html_parts = [f"<p>The schema of project <b>{html.escape(name)}</b> {html.escape(intro)}</p>"]
    for title, group in (("Breaking changes", breaking), ("Other changes", others)):
        if not group:
            continue
        text_parts += [f"{title}:", *(f"  - {_line(c)}" for c in group), ""]
        items = "".join(f"<li><code>{html.escape(_line(c))}</code></li>" for c in group)
        html_parts.append(f"<h3>{title}</h3><ul>{items}</ul>")
    text_parts.append(f"Details: {link}")
    html_parts.append(f'<p><a href="{html.escape(link, quote=True)}">See the change log</a></p>')
    return OutgoingMail(tuple(to), subject, "\n".join(text_parts), "".join(html_parts))


class SchemaChangeMailer:
    def __init__(self, mail: MailBackend, recipients: Recipients, dashboard_url: str) -> None:
        self._mail = mail
        self._recipients = recipients
        self._dashboard_url = dashboard_url.rstrip("/")

    async def handle(self, event: Event) -> None:
        payload = event.payload
        project_id = payload["project_id"]
        to = await self._recipients(project_id)
        if not to:
            return
        link = f"{self._dashboard_url}/projects/{project_id}/schema-changes"
        try:
            await self._mail.send(compose_notice(payload, to, link))
        except MailError as error:
            _log.error("schema change mail for %s not sent: %s", project_id, error)
