"""Schemathesis against the API's own OpenAPI document (GET /api/v1/openapi.json), as
`schemathesis run --checks all` does it: every phase (examples, coverage, fuzzing, stateful) and
every check — no server error, documented status codes, content types, headers and bodies, 405
with Allow for an undocumented method, missing credentials refused, positive data accepted (what
the document calls valid is never a 422) and negative data refused — once per role with that
role's bearer token, on SQLite and PostgreSQL, against the app served over HTTP on 127.0.0.1 by a
werkzeug server thread (schemathesis's in-process WSGI transport cannot send its auth probes).

The data is the access matrix's two schools (tests/integration/web/test_access_matrix.Scene)
plus an account holding only the admin role, so ids the fuzzer guesses can hit real rows of
either school; the clock is in the upload window. File parts get real files of their kinds
(tests/reliability/api_fuzz_hooks.py). DELETE /auth/token is left out: it ends the token the run
uses (test_openapi.py checks it). Figures per role are printed and saved to
test-artifacts/reliability/api_fuzz-<engine>.json.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema
from werkzeug.serving import make_server

import tests.reliability.api_fuzz_hooks  # noqa: F401 (registers the file-part hook)
from persistence.tables import Staff, StaffRole
from tests.integration.web.conftest import PASSWORD
from tests.integration.web.conftest import app, client  # noqa: F401
from tests.integration.web.test_access_matrix import Scene
from tests.world import IN_UPLOAD
from workflows.people import accounts
from workflows.core.actors import platform_admin

ARTIFACTS = Path("test-artifacts/reliability")
# One account per role of school 013301 (tests/integration/web/conftest.add_accounts).
ROLES = {"student": "stu0", "guardian": "parent", "subject teacher": "teacher2",
         "homeroom teacher": "teacher", "registry staff": "staff", "admin": "admin"}
EXAMPLES = 2  # per operation and phase: about 45 s per engine on 2 cores (the coverage phase is most of it)
HEAVY_EXAMPLES = 100
SEED = 20260415

pytestmark = pytest.mark.xdist_group("api-fuzz")


def _add_admin(world) -> None:
    """Someone holding only the school's admin role (學校平臺管理者)."""
    with world.uow() as uow:
        staff = Staff(school_id=world.school_id, staff_no="A001", name="平臺管理者")
        uow.session.add(staff)
        uow.session.flush()
        uow.session.add(StaffRole(school_id=world.school_id, staff_id=staff.id, role="admin"))
        accounts.create_account(uow, platform_admin(), username=f"admin.{world.code}", password=PASSWORD,
                                kind="staff", staff_id=staff.id)
        uow.commit()


def _token(client, username: str) -> dict:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _shown(body) -> str:
    """A case's body for the report, files by kind and size."""
    if isinstance(body, dict):
        return "{" + ", ".join(f"{k!r}: {_shown(v)}" for k, v in body.items()) + "}"
    data = getattr(body, "data", body)
    if isinstance(data, bytes):
        return f"<{len(data)} bytes {data[:8]!r}>"
    return repr(body)[:300]


def _run(base_url: str, headers: dict, examples: int) -> dict:
    """One `schemathesis run --checks all` with these headers: cases, failures, errors."""
    config = SchemathesisConfig()
    config.update(seed=SEED, max_failures=None)
    project = config.projects.override
    project.update(headers=headers)
    project.checks.update(included_check_names=["all"])
    project.generation.update(max_examples=examples, database="none")
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config)
    schema = schema.exclude(method="DELETE", path="/auth/token")
    tally = {"cases": 0, "operations": len(list(schema.get_all_operations())), "checks": 0,
             "failures": [], "errors": []}
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            tally["cases"] += len(event.recorder.cases)
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    tally["checks"] += 1
                    if check.status == Status.FAILURE and len(tally["failures"]) < 50:
                        failure = check.failure_info.failure if check.failure_info else None
                        case = event.recorder.cases[case_id].value
                        tally["failures"].append(f"[{event.phase}] {check.name}: {str(failure)[:600]}\n"
                                                 f"  {case.method} {case.formatted_path} {case.query or ''} "
                                                 f"body: {_shown(case.body)}")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            error = event.value if isinstance(event, events.NonFatalError) else event.exception
            tally["errors"].append(f"{getattr(event, 'label', '')}: {type(error).__name__}: {str(error)[:400]}")
    return tally


@pytest.mark.parametrize("examples", [pytest.param(EXAMPLES, id="default"),
                                      pytest.param(HEAVY_EXAMPLES, id="heavy", marks=pytest.mark.heavy)])
def test_api_fuzz_every_role(db, files, app, client, examples):  # noqa: F811
    scene = Scene(db, files, app)
    scene.issue_receipt()  # receipts exist to be guessed at
    _add_admin(scene.home)
    app.config["NOW"] = IN_UPLOAD  # the upload window is open: uploads go as deep as they can
    engine = db.engine.dialect.name
    report = {"engine": engine, "examples_per_operation": examples, "checks": "all", "roles": {}}
    server, thread = _served(app)
    started = time.monotonic()
    try:
        base_url = f"http://127.0.0.1:{server.server_port}"
        for role, who in ROLES.items():
            tally = _run(base_url, _token(client, f"{who}.013301"), examples)
            report["roles"][role] = tally
            print(f"api fuzz [{engine}] {role}: {tally['operations']} operations, {tally['cases']} cases, "
                  f"{tally['checks']} checks, {len(tally['failures'])} failures, {len(tally['errors'])} errors")
    finally:
        server.shutdown()
        thread.join(timeout=10)
    report["cases"] = sum(t["cases"] for t in report["roles"].values())
    report["failures"] = sum(len(t["failures"]) for t in report["roles"].values())
    report["errors"] = sum(len(t["errors"]) for t in report["roles"].values())
    report["seconds"] = round(time.monotonic() - started, 1)
    print(f"api fuzz [{engine}]: {report['cases']} cases in all, {report['failures']} failures, "
          f"{report['errors']} errors, {report['seconds']} s")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    suffix = "-heavy" if examples != EXAMPLES else ""
    (ARTIFACTS / f"api_fuzz-{engine}{suffix}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    problems = [f"{role}: {line}" for role, t in report["roles"].items() for line in t["failures"] + t["errors"]]
    assert not problems, "\n".join(problems[:10])
    assert all(t["cases"] >= t["operations"] for t in report["roles"].values())
