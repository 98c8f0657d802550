"""The floor of benchmarks/web_certify.py: the least a correct certification over HTTP must do,
written by hand in SQL with nothing of the app's design: look the bearer token up (its SHA-256
in sign_in_sessions, within its lifetimes, its account active; a password change, 停用 or DELETE
/auth/token ends it by deleting the row), read the item locked with its course and the
certification window, refuse unless it is submitted, the caller teaches the course and the window
is open, write the audit row, update the item, commit. No ORM, no state machine, no schemas, no
proxies, unavailabilities or certify-only periods: it is not a way to build the product, it
measures how close any implementation on this stack (Flask, SQLAlchemy Core, psycopg, gunicorn)
could come to the bare endpoint.

    PORTFOLIO_DATABASE_URL=... gunicorn 'benchmarks.floor_certify:app'
"""
from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta, timezone

from flask import Flask, jsonify, request
from sqlalchemy import text

from benchmarks.bare_certify import CERTIFY  # the very update the baseline makes
from persistence.db import make_engine

app = Flask(__name__)
engine = make_engine(os.environ["PORTFOLIO_DATABASE_URL"])
IDLE, TOUCH_EVERY = timedelta(hours=2), timedelta(minutes=1)  # the app's defaults

SESSION = text(
    "SELECT s.id, s.last_seen_at, a.school_id, a.staff_id, a.name FROM sign_in_sessions s "
    "JOIN accounts a ON a.id = s.account_id AND a.school_id = s.school_id "
    "WHERE s.token_hash = :hash AND s.kind = 'api' AND s.expires_at > :now AND s.last_seen_at > :idle_since "
    "AND a.active")
TOUCH = text("UPDATE sign_in_sessions SET last_seen_at = :now WHERE id = :id")
ITEM = text(
    "SELECT i.state, i.student_id, i.document_sha256, i.media_sha256, c.teacher_id, "
    "EXISTS (SELECT 1 FROM windows w WHERE w.school_id = i.school_id AND w.kind = 'certification' "
    "AND w.academic_year = i.academic_year AND w.semester = i.semester AND w.batch_id IS NULL "
    "AND w.starts_at <= :now AND :now < w.ends_at) AS open "
    "FROM items i JOIN courses c ON c.id = i.course_id WHERE i.id = :id AND i.school_id = :school "
    "FOR UPDATE OF i")
AUDIT = text(
    "INSERT INTO audit_log (school_id, subject_kind, subject_id, student_id, event, from_state, to_state, "
    "actor_kind, actor_id, actor_name, at, file_hash) VALUES (:school, 'course_outcome', :id, :student, "
    "'certify', 'submitted', 'certified', 'staff', :staff, :name, :now, :hash)")


@app.post("/items/<int:item_id>/certify")
def certify(item_id: int):
    value = request.headers.get("Authorization", "")[7:].strip()
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        account = connection.execute(SESSION, {"hash": hashlib.sha256(value.encode()).hexdigest(), "now": now,
                                               "idle_since": now - IDLE}).first()
        if account is None:
            return jsonify({"error": "unauthorized"}), 401
        if now - account.last_seen_at >= TOUCH_EVERY:
            connection.execute(TOUCH, {"now": now, "id": account.id})
        item = connection.execute(ITEM, {"id": item_id, "school": account.school_id, "now": now}).first()
        if item is None:
            return jsonify({"error": "not_found"}), 404
        if item.state != "submitted" or item.teacher_id != account.staff_id or not item.open:
            return jsonify({"error": "refused"}), 409
        digest = ";".join(f"{slot}={value}" for slot, value in
                          (("document", item.document_sha256), ("media", item.media_sha256)) if value)
        connection.execute(AUDIT, {"school": account.school_id, "id": item_id, "student": item.student_id,
                                   "staff": account.staff_id, "name": account.name, "now": now,
                                   "hash": digest or None})
        connection.execute(CERTIFY, {"teacher": account.staff_id, "now": now, "id": item_id})
    return jsonify({"id": item_id, "state": "certified"}), 200
