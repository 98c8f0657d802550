"""The baseline of benchmarks/web_certify.py: a bare Flask endpoint that makes the same
single-row update a certification makes, and nothing else (no sign-in, no rules, no audit row).

    PORTFOLIO_DATABASE_URL=... gunicorn 'benchmarks.bare_certify:app'
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

from flask import Flask, jsonify
from sqlalchemy import text

from persistence.db import make_engine

app = Flask(__name__)
engine = make_engine(os.environ["PORTFOLIO_DATABASE_URL"])
TEACHER_ID = int(os.environ.get("BENCH_TEACHER_ID", "0"))

CERTIFY = text(
    "UPDATE items SET state = 'certified', certified_by_id = :teacher, certified_at = :now, "
    "certified_document_sha256 = document_sha256, certified_media_sha256 = media_sha256, "
    "updated_at = :now, version = version + 1 WHERE id = :id AND state = 'submitted'")


@app.post("/items/<int:item_id>/certify")
def certify(item_id: int):
    now = datetime.now(timezone.utc)
    if engine.dialect.name == "sqlite":
        now = now.replace(tzinfo=None)
    with engine.begin() as connection:
        changed = connection.execute(CERTIFY, {"teacher": TEACHER_ID, "now": now, "id": item_id}).rowcount
    return jsonify({"id": item_id, "state": "certified"}), (200 if changed == 1 else 409)
