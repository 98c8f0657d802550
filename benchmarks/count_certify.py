"""Instructions per certification (issue 4), counted by callgrind: load-independent, so it can be
measured while the machine is busy (the wall-clock benchmark, web_certify.py, cannot).

In process (Flask's test client, no gunicorn, no client), on PostgreSQL: callgrind counts a run of
10 and a run of 50 certifications through the app (`POST /api/v1/artefacts/<id>/events/certify`)
and through the bare endpoint (benchmarks/bare_certify.py); (50-run − 10-run) / 40 is one
request, imports and start-up cancelled out.

    python benchmarks/count_certify.py            # needs valgrind; ~2 minutes
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATABASE = "portfolio_bench_count"  # the only database this script creates or drops


def child(state_file: str, side: str, start: int, count: int) -> None:
    state = json.loads(Path(state_file).read_text())
    if side == "app":
        from web.app import create_app

        app = create_app({"DATABASE_URL": state["url"], "DATA_DIR": state["files"], "SECRET_KEY": "x" * 32,
                          "RATELIMIT_ENABLED": False})
        headers = {"Authorization": f"Bearer {state['token']}"}
        paths = [f"/api/v1/artefacts/{i}/events/certify" for i in state["app"][start:start + count]]
    else:
        os.environ.update(PORTFOLIO_DATABASE_URL=state["url"], BENCH_TEACHER_ID=str(state["teacher"]))
        from benchmarks.bare_certify import app

        headers, paths = {}, [f"/items/{i}/certify" for i in state["bare"][start:start + count]]
    client = app.test_client()
    for path in paths:
        response = client.post(path, json={}, headers=headers)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.data[:200]!r}")


def instructions(state_file: str, side: str, start: int, count: int) -> int:
    run = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          __file__, "--child", state_file, side, str(start), str(count)],
                         cwd=ROOT, capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise SystemExit(f"{side} run failed:\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return 0
    from benchmarks import scratch_db
    from benchmarks.scratch_db import DEFAULT_PG_URL
    from benchmarks.web_certify import PASSWORD, School
    from persistence.db import Database, make_engine
    from persistence.migrate import upgrade
    from web.app import create_app

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-url", default=os.environ.get("PORTFOLIO_BENCH_PG_URL", DEFAULT_PG_URL))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-count-"))
    url = scratch_db.create("postgresql", args.pg_url, DATABASE, workdir)
    try:
        db = Database(make_engine(url))
        upgrade(db.engine)
        school = School(db)
        app = create_app({"DATABASE_URL": url, "DATA_DIR": str(workdir / "files"), "SECRET_KEY": "x" * 32,
                          "RATELIMIT_ENABLED": False})
        token = app.test_client().post("/api/v1/auth/token", json={"username": "bench.teacher",
                                                                   "password": PASSWORD}).get_json()["token"]
        state = workdir / "state.json"
        state.write_text(json.dumps({"url": url, "files": str(workdir / "files"), "token": token,
                                     "teacher": school.teacher_id, "app": school.submitted_items(60, "app"),
                                     "bare": school.submitted_items(60, "bare")}))
        db.dispose()
        per = {}
        for side in ("bare", "app"):
            per[side] = (instructions(str(state), side, 10, 50) - instructions(str(state), side, 0, 10)) / 40
            print(f"{side}: {per[side] / 1e6:.2f} M instructions per certification")
        print(f"app / bare: {per['app'] / per['bare']:.1f}×")
    finally:
        scratch_db.drop("postgresql", args.pg_url, DATABASE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
