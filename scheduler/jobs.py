"""The functions APScheduler calls. Stored jobs refer to them by name and carry only plain
values (ids), so a job written by one process runs in another; the running `Service` is bound
here when the scheduler starts."""
from __future__ import annotations

_service = None


def bind(service) -> None:
    global _service
    _service = service


def _bound():
    if _service is None:
        raise RuntimeError("no scheduler service is running in this process")
    return _service


def window_boundary(school_id: int, window_id: int, edge: str) -> None:
    """A window of `school_id` opened, closed, or reached its reminder moment."""
    _bound().run(f"window {window_id} {edge}", school_ids={school_id})


def catch_up() -> None:
    _bound().run("catch-up")


def sync() -> None:
    _bound().sync()


def deliver() -> None:
    _bound().deliver()
