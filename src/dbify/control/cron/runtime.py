"""Building the scheduler of a process (``dbify scheduler``; in-process in ``dbify serve``)."""

from __future__ import annotations

from dbify.control.cron.scheduler import Scheduler
from dbify.control.cron.store import CronStore
from dbify.control.outbound import OutboundPolicy
from dbify.control.plane import ControlPlane
from dbify.control.projects.store import ProjectStore

__all__ = ["build_scheduler"]


def build_scheduler(plane: ControlPlane) -> Scheduler:
    """A scheduler on the plane's store; HTTP actions obey the webhooks' allow-list."""
    engine = plane.store.engine
    policy = OutboundPolicy(plane.settings.webhooks.allowed_hosts)
    return Scheduler(
        CronStore(engine), ProjectStore(engine), plane.box, plane.settings.scheduler, policy
    )
