"""How large a request may be.

An artefact's upload or edit carries at most one file per slot of the school's policy (seed 002
檔案格式、大小: a document ≤ 4 MB and an audio/video file ≤ 10 MB, with a description), in one
request: so such a request may be as large as the slots of the school's policy together, plus
the form around them. Policies are per school, so the limit is the signed-in account's school's,
worked out when the body is first read (before that, nothing is known of the body but its
announced length, which werkzeug refuses with 413 before reading it). Every other request keeps
the small MAX_CONTENT_LENGTH. Each slot is still refused at its own limit by workflows/items/uploads.py
while its file streams into the store (422 naming the slot and its limit).
"""
from __future__ import annotations

from dataclasses import dataclass

import flask

from persistence.tables import School
from web.context import current_account, db
from workflows.core.policy import school_policy

# Everything of an upload's request that is not its files: the multipart framing and part
# headers (file names), the CSRF token, the title (≤ 80 characters), the description (≤ 100),
# an external link (≤ 500), the version; in UTF-8, with room to spare.
FORM_OVERHEAD = 64 * 1024

# The views that take an artefact's files, and the kinds of item each may carry.
ARTEFACT_KINDS = ("course_outcome", "performance")
UPLOAD_ENDPOINTS = {
    "student.upload_outcome": ("course_outcome",),
    "student.upload_performance": ("performance",),
    "student.save": ARTEFACT_KINDS,
    "api.create_artefact": ARTEFACT_KINDS,
    "api.edit_artefact": ARTEFACT_KINDS,
}


@dataclass(frozen=True)
class UploadLimit:
    """The request limit of an upload and the slot limits it is made of (bytes)."""

    total: int
    slots: dict  # {"document": bytes, "media": bytes}: the largest of the kinds concerned


def upload_limit(policy, kinds=ARTEFACT_KINDS) -> UploadLimit:
    """The largest request an upload of one of `kinds` under `policy` may need."""
    slots: dict[str, int] = {}
    largest = 0
    for kind in kinds:
        rule = policy.item_rule(kind)
        sizes = {slot: getattr(rule, slot).max_bytes for slot in ("document", "media") if getattr(rule, slot)}
        largest = max(largest, sum(sizes.values()))
        for slot, size in sizes.items():
            slots[slot] = max(slots.get(slot, 0), size)
    return UploadLimit(largest + FORM_OVERHEAD, slots)


def _school_policy(school_id: int):
    # The API's bearer check may have kept the request's own session open (web/api/core.py),
    # holding the school row and, on SQLite, the write lock: a second session would wait on it.
    session, _held = flask.g.get("request_session", (None, ()))
    if session is not None:
        school = session.get(School, school_id)
        return None if school is None else school_policy(school)
    with db().session() as session:
        school = session.get(School, school_id)
        return None if school is None else school_policy(school)


def current_upload_limit() -> UploadLimit | None:
    """This request's upload limit, or None when it is not an upload (or nobody is signed in)."""
    kinds = UPLOAD_ENDPOINTS.get(flask.request.endpoint or "") if flask.has_request_context() else None
    if kinds is None:
        return None
    if "upload_limit" not in flask.g:
        # The API's bearer check has put its account in g by now; the site's comes from the cookie.
        account = current_account()
        policy = _school_policy(account.school_id) if account is not None else None
        flask.g.upload_limit = upload_limit(policy, kinds) if policy is not None else None
    return flask.g.upload_limit


class Request(flask.Request):
    """Flask's request, with an artefact upload's limit taken from the school's policy."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is None:
            limit = current_upload_limit() if flask.has_app_context() else None
            if limit is not None:
                self._max_content_length = limit.total
        return super().max_content_length

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value
