"""The floor of benchmarks/web_certify.py: the least a correct certification over HTTP must do,
written by hand in SQL with nothing of the app's design: check the bearer token and that its
account is still open (a password change ends it), read the item locked with its course and the
certification window, refuse unless it is submitted, the caller teaches the course and the window
is open, write the audit row, update the item, commit. No ORM, no state machine, no schemas, no
proxies, unavailabilities or certify-only periods: it is not a way to build the product, it
measures how close any implementation on this stack (Flask, SQLAlchemy Core, psycopg, gunicorn)
could come to the bare endpoint.

    PORTFOLIO_DATABASE_URL=... PORTFOLIO_SECRET_KEY=... gunicorn 'benchmarks.floor_certify:app'
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import text

from benchmarks.bare_certify import CERTIFY  # the very update the baseline makes
from persistence.db import make_engine

app = Flask(__name__)
engine = make_engine(os.environ["PORTFOLIO_DATABASE_URL"])
tokens = URLSafeTimedSerializer(os.environ["PORTFOLIO_SECRET_KEY"], salt="portfolio-api-token")

ACCOUNT = text("SELECT a.school_id, a.staff_id, a.name, a.password_hash, a.active FROM accounts a WHERE a.id = :id")
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
    try:
        payload = tokens.loads(request.headers.get("Authorization", "")[7:], max_age=8 * 3600)
    except BadSignature:
        return jsonify({"error": "unauthorized"}), 401
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        account = connection.execute(ACCOUNT, {"id": payload["a"]}).first()
        if account is None or not account.active or account.password_hash[-16:] != payload["f"]:
            return jsonify({"error": "unauthorized"}), 401
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
