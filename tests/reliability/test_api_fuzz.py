"""Schemathesis against the API's own OpenAPI document (GET /api/v1/openapi.json), in process,
on SQLite and PostgreSQL, once per role with that role's bearer token.

Every generated request must be answered without a server error (no 5xx), with a status code
the document lists for the operation, and with a body matching the documented schema. The data
is the access matrix's two schools (tests/integration/web/test_access_matrix.Scene) plus an
account holding only the admin role, so ids the fuzzer guesses can hit real rows of either school.
The number of cases generated per role is printed and saved to
test-artifacts/reliability/api_fuzz-<engine>.json.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from persistence.tables import Staff, StaffRole
from tests.integration.web.conftest import PASSWORD
from tests.integration.web.conftest import app, client  # noqa: F401
from tests.integration.web.test_access_matrix import Scene
from tests.world import IN_UPLOAD
from workflows import accounts
from workflows.actors import platform_admin

ARTIFACTS = Path("test-artifacts/reliability")
# One account per role of school 013301 (tests/integration/web/conftest.add_accounts).
ROLES = {"student": "stu0", "guardian": "parent", "subject teacher": "teacher2",
         "homeroom teacher": "teacher", "registry staff": "staff", "admin": "admin"}
EXAMPLES = 8  # per operation, mode and role: ~1 min for both engines on 2 cores
HEAVY_EXAMPLES = 150
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


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


def _fuzz_operation(operation, mode, headers: dict, examples: int, derandomize: bool, tally: dict) -> None:
    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
              report_multiple_bugs=False)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        tally["cases"] += 1
        tally[mode.value] += 1
        response = case.call(headers=headers)
        status = response.status_code
        tally["statuses"][str(status)] = tally["statuses"].get(str(status), 0) + 1
        if status >= 500:
            tally["server_errors"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as failure:  # schemathesis failures (groups too): one line each; the run goes on
            label = f"{operation.method.upper()} {operation.path}"
            if len(tally["failures"]) < 50:
                tally["failures"].append(f"{label} → {status}: {str(failure)[:600]}\n"
                                         f"  {case.as_curl_command(headers=headers)[:400]}")
    run()


@pytest.mark.parametrize("examples", [pytest.param(EXAMPLES, id="default"),
                                      pytest.param(HEAVY_EXAMPLES, id="heavy", marks=pytest.mark.heavy)])
def test_api_fuzz_every_role(db, files, app, client, examples):  # noqa: F811
    scene = Scene(db, files, app)
    scene.issue_receipt()  # receipts exist to be guessed at
    _add_admin(scene.home)
    app.config["NOW"] = IN_UPLOAD  # the upload window is open: uploads go as deep as they can
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    engine = db.engine.dialect.name
    report = {"engine": engine, "examples_per_operation": examples, "operations": len(operations), "roles": {}}
    started = time.monotonic()
    for role, who in ROLES.items():
        headers = _token(client, f"{who}.013301")
        tally = {"cases": 0, "positive": 0, "negative": 0, "server_errors": 0, "statuses": {}, "failures": []}
        for operation in operations:
            # Valid requests (positive) and requests that break the schema (negative).
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz_operation(operation, mode, headers, examples, examples == EXAMPLES, tally)
        report["roles"][role] = tally
        print(f"api fuzz [{engine}] {role}: {tally['cases']} cases ({tally['positive']} valid, "
              f"{tally['negative']} invalid), {tally['server_errors']} 5xx, "
              f"{len(tally['failures'])} failures, statuses {dict(sorted(tally['statuses'].items()))}")
    report["cases"] = sum(t["cases"] for t in report["roles"].values())
    report["server_errors"] = sum(t["server_errors"] for t in report["roles"].values())
    report["failures"] = sum(len(t["failures"]) for t in report["roles"].values())
    report["seconds"] = round(time.monotonic() - started, 1)
    print(f"api fuzz [{engine}]: {report['cases']} cases in all, {report['server_errors']} 5xx, "
          f"{report['failures']} failures")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    suffix = "-heavy" if examples != EXAMPLES else ""
    (ARTIFACTS / f"api_fuzz-{engine}{suffix}.json").write_text(json.dumps(report, ensure_ascii=False, indent=2))
    failures = [f for t in report["roles"].values() for f in t["failures"]]
    assert report["server_errors"] == 0 and not failures, "\n".join(failures[:10])
    assert all(t["cases"] >= len(operations) for t in report["roles"].values())
