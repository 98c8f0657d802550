"""The functions APScheduler calls. Stored jobs refer to them by name and carry only plain
values (ids), so a job written by one process runs in another; the running `Service` is bound
here when the scheduler starts."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)
_service = None


def bind(service) -> None:
    global _service
    _service = service


def _bound():
    if _service is None:  # a job queued just before the service stopped: nothing to do
        log.info("scheduler job skipped: the service has stopped")
    return _service


def window_boundary(school_id: int, window_id: int, edge: str) -> None:
    """A window of `school_id` opened, closed, or reached its reminder moment."""
    if service := _bound():
        service.run(f"window {window_id} {edge}", school_ids={school_id})


def catch_up() -> None:
    if service := _bound():
        service.run("catch-up")


def sync() -> None:
    if service := _bound():
        service.sync()


def deliver() -> None:
    if service := _bound():
        service.deliver()
