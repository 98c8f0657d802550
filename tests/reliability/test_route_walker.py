"""Every route with hostile input (issue 15): never a 5xx, on SQLite and PostgreSQL.

For every rule of `app.url_map` (static files aside) and every method — the rule's own and the
ones it refuses (405) — as every kind of person (anonymous, student, guardian, subject teacher,
homeroom teacher, the school's offices; the API with their bearer tokens), each path converter and
each query or form parameter the view reads gets each hostile value in turn: a huge number, a
negative one, '²' (isdigit() but not int()), '١' (a digit to int() and to regex \\d), NUL, 10,000
characters, the RTL override, an emoji, nothing at all, and a well-formed id of another school.

Which parameters a view reads is found, not listed by hand: statically, every literal name the
view's module (and the web modules it imports from) reads from request.args / form / values /
files, and the fields of the marshmallow forms it uses; at run time, every name any view actually
reads from a request while the walk goes on (a recording MultiDict). A name read at run time that
was not walked yet is walked in a further round, until none is left.

Every offender (route, method, role, parameter, value, status, traceback) is reported at once.
By default each route is walked as the person who gets furthest into it (the first whose plain
request is not refused), with every value; --heavy walks it as every person.
"""
from __future__ import annotations

import ast
import re
import importlib
import inspect
import sys
import time
import traceback
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from flask import has_request_context, request
from marshmallow import Schema
from werkzeug.datastructures import MultiDict

from persistence.tables import Account
from tests.integration.web.conftest import PASSWORD
from tests.integration.web.test_access_matrix import Scene
from tests.world import IN_UPLOAD, YEAR
from web.app import create_app
from workflows.central import batches

ROLES = {"staff office": "staff", "homeroom teacher": "teacher", "subject teacher": "teacher2",
         "student": "stu0", "guardian": "parent", "anonymous": None}
HOSTILE = {
    "huge": "99999999999999999999999",
    "negative": "-1",
    "superscript two": "\u00b2",
    "arabic-indic one": "\u0661",
    "NUL": "\x00",
    "10,000 characters": "1" * 10_000,  # digits: int() refuses more than 4,300 of them
    "RTL override": "\u202e",
    "emoji": "\U0001f600",
    "empty": "",
    "other school's id": None,  # filled in from the scene
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# What a parameter holds when another one is the hostile one: a value that takes the view as
# far as it goes. Names not here get "1".
PLAUSIBLE = {"academic_year": str(YEAR), "year": str(YEAR), "semester": "1", "version": "1", "confirm": "yes",
             "kind": "course_outcome", "held_on": "2025-10-30", "held_time": "14:30", "starts_on": "2025-11-01",
             "ends_on": "2025-11-02", "until": "2026-01-31", "first_day": "2026-10-04", "last_day": "2026-10-18",
             "done_on": "2025-11-01", "reason": "理由", "division": "day", "principal": "staff:1",
             "page": "1", "q": "stu", "state": "submitted", "sort": "waiting", "category": "competition"}
# The same names mean other things on some pages (blueprint: {name: value}).
PLAUSIBLE_OF = {"batches": {"kind": "year_outcomes"}, "grade_corrections": {"kind": "exam", "reason": "entry_error",
                                                                            "subject": "數學", "exam_no": "1"},
                "disputes": {"kind": "answered"}, "working_group": {"kind": "training", "attendees": "30",
                                                                    "task": "檢核", "held_on": "2025-10-30"},
                "records": {"kind": "exam"}}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_REQUEST_SOURCES = ("request.args", "request.form", "request.values", "request.files", "args", "form")


# --------------------------------------------------------------------------- parameters, found


def _static_names(module_name: str, seen: set[str] | None = None) -> set[str]:
    """Names the module reads from a request (literals), the fields of the forms it uses, and the
    same of the web modules it imports from."""
    seen = set() if seen is None else seen
    if module_name in seen:
        return set()
    seen.add(module_name)
    module = importlib.import_module(module_name)
    tree = ast.parse(inspect.getsource(module))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("get", "getlist") and node.args \
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str) \
                and ast.unparse(node.func.value) in _REQUEST_SOURCES:
            names.add(node.args[0].value)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("web.") \
                and node.module not in ("web.context", "web.errors", "web.filters") \
                and not node.module.startswith(("web.api", "web.cli")):
            names |= _static_names(node.module, seen)
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, Schema) and value.__module__.startswith("web.") \
                and not value.__module__.startswith("web.api"):
            names |= set(value._declared_fields)
    return names


_read: dict[str, set[str]] = {}  # endpoint -> names read from a request at run time


class _RecordingDict(MultiDict):
    def _note(self, key) -> None:
        # The CSRF token is Flask-WTF's, read alike before every form's view; the walk sends it.
        if has_request_context() and isinstance(key, str) and key != "csrf_token":
            _read.setdefault(request.endpoint or "?", set()).add(key)

    def get(self, key, default=None, type=None):  # noqa: A002 (werkzeug's name)
        self._note(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        self._note(key)
        return super().getlist(key, type)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


# --------------------------------------------------------------------------- the walk


@dataclass
class Target:
    rule: str
    endpoint: str
    method: str
    allowed: bool
    arguments: tuple[str, ...]
    converters: dict
    params: set[str] = field(default_factory=set)


@dataclass
class Tally:
    requests: int = 0
    cases: int = 0
    server_errors: int = 0
    statuses: dict = field(default_factory=dict)
    offenders: list = field(default_factory=list)
    combos: set = field(default_factory=set)  # (rule, method, role, param, value name)


class Walker:
    def __init__(self, app, scene: Scene, tally: Tally):
        self.app, self.scene, self.tally = app, scene, tally
        home, far = scene.home, scene.far
        self.good = {"student_id": str(scene.owner_id), "item_id": str(scene.submitted),
                     "receipt_id": str(scene.receipt), "batch_id": str(scene.batch_id),
                     "account_id": str(scene.spare_account), "school_code": home.code, "audience": "students",
                     "event": None, "slot": "document"}
        self.far = {"student_id": far.student_ids[0], "item_id": scene.far_item, "batch_id": scene.far_batch_id,
                    "account_id": scene.far_account, "staff_id": far.staff_id, "course_id": far.course2_id,
                    "school_code": far.code}
        student_no = f"{home.code[-3:]}0000"
        # Real rows of the home school where a form names one, so a request goes as deep as it can.
        self.plausible = {"teacher_id": str(home.teacher_id), "staff_id": str(home.other_teacher_id),
                          "course_id": str(home.course2_id), "consultant_id": str(home.staff_id),
                          "student_no": student_no, "lines": f"{student_no} 60 70", "student_nos": student_no,
                          "item": str(scene.submitted), "proxy_1": str(home.staff_id)}
        self.clients: dict[str, object] = {}
        self.tokens: dict[str, dict] = {}
        self.csrf: dict[str, str] = {}
        for role, who in ROLES.items():
            client = app.test_client()
            self.clients[role] = client
            self.sign_in(role)
            if who:
                token = client.post("/api/v1/auth/token", json={"username": f"{who}.013301", "password": PASSWORD})
                self.tokens[role] = ({"Authorization": f"Bearer {token.get_json()['token']}"}
                                     if token.status_code == 200 else {})

    def sign_in(self, role: str) -> None:
        """Signed in (but anonymous), with the session's CSRF token: forms are sent as a browser
        sends them, so a view reads its form where it does in production (after the CSRF check)."""
        who, client = ROLES[role], self.clients[role]
        if who is not None:
            response = client.post("/login", data={"username": f"{who}.013301", "password": PASSWORD,
                                                   "csrf_token": _token(client)})
            assert response.status_code == 302, (role, response.status_code)
        self.csrf[role] = _token(client)

    def far_value(self, name: str) -> str:
        return str(self.far.get(name, self.far["item_id"]))

    def _path_value(self, target: Target, name: str) -> str:
        converter = target.converters[name]
        if self.good.get(name) is not None:
            return self.good[name]
        items = getattr(converter, "items", None)  # any(…)
        if items:
            return sorted(items)[0]
        if name == "event":
            return "submit"
        return "1"

    def send(self, target: Target, role: str, hostile: tuple[str, str] | None, value_name: str = "") -> int | None:
        """One request; a hostile (name, value) goes into that path segment, or into the query
        and the form. Returns the status (None for an exception, which is recorded)."""
        path_values = {name: self._path_value(target, name) for name in target.arguments}
        plausible = {**PLAUSIBLE, **self.plausible, **PLAUSIBLE_OF.get(target.endpoint.split(".")[0], {})}
        params = {name: plausible.get(name, "1") for name in target.params}
        hostile_name = hostile[0] if hostile else None
        if hostile and hostile_name in path_values:
            path_values[hostile_name] = hostile[1]
        elif hostile:
            params[hostile_name] = hostile[1]
        url = target.rule
        for name in target.arguments:
            start = url.index("<")
            url = url[:start] + quote(path_values[name], safe="") + url[url.index(">", start) + 1:]
        client = self.clients[role]
        headers = self.tokens.get(role, {}) if target.rule.startswith("/api/") else {}
        kwargs = {"headers": headers}
        if target.method == "GET":
            kwargs["query_string"] = params
        else:
            kwargs["data"] = {**params, "csrf_token": self.csrf[role]}
            if hostile and hostile_name in params:
                kwargs["query_string"] = {hostile_name: hostile[1]}
        self.tally.requests += 1
        if hostile:
            self.tally.cases += 1
            self.tally.combos.add((target.rule, target.method, role, hostile_name, value_name))
        where = (f"{target.method} {target.rule} as {role}, "
                 f"{hostile_name}={value_name or '(plain)'}" if hostile else f"{target.method} {target.rule} as {role}")
        try:
            response = client.open(url, method=target.method, **kwargs)
        except Exception:  # noqa: BLE001 - every offender is reported, the walk goes on
            self.tally.server_errors += 1
            self.tally.offenders.append(f"{where}: exception\n{traceback.format_exc(limit=-6)}")
            status = None
        else:
            status = response.status_code
            if status in (301, 302, 303) and "/login" in response.headers.get("Location", ""):
                status = 401  # sent to sign in: as far from the view as a request gets
            self.tally.statuses[status] = self.tally.statuses.get(status, 0) + 1
            if status >= 500:
                self.tally.server_errors += 1
                self.tally.offenders.append(f"{where}: {status} {response.get_data(as_text=True)[:300]}")
        if target.endpoint in ("auth.logout", "auth.login", "account.change_password") or status is None:
            self.sign_in(role)  # signed out, or a session left in doubt: walk on signed in
        return status


def _token(client) -> str:
    return _CSRF.search(client.get("/login").get_data(as_text=True)).group(1)


def _depth(status: int | None) -> int:
    """How far a plain request got: a page or a done act, then a refusal of the input, then not
    found, then forbidden, then sent to sign in."""
    if status is None:
        return 0
    if status == 401:
        return 1
    if status < 300 or status in (302, 303):
        return 5
    if status in (400, 409, 413, 422):
        return 4
    if status == 404:
        return 3
    if status == 403:
        return 2
    return 1


def _targets(app) -> list[Target]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        module = sys.modules[inspect.unwrap(view).__module__]
        names = set() if module.__name__.startswith("web.api") else _static_names(module.__name__)
        allowed = rule.methods - {"HEAD", "OPTIONS"}
        for method in METHODS:
            found.append(Target(rule.rule, rule.endpoint, method, method in allowed, tuple(_argument_order(rule)),
                                dict(rule._converters), set(names)))
    return found


def _argument_order(rule) -> list[str]:
    """The rule's path arguments in the order they appear in its string."""
    return [part[1:-1].split(":")[-1] for part in _segments(rule.rule)]


def _segments(text: str) -> list[str]:
    out, start = [], text.find("<")
    while start != -1:
        end = text.index(">", start)
        out.append(text[start:end + 1])
        start = text.find("<", end)
    return out


def _values(name: str, target: Target, every_role: bool) -> list[tuple[str, str | None]]:
    """Every hostile value for a path argument or a parameter the view was seen reading; for a
    name its module reads elsewhere, three of them in turn (all of them under --heavy)."""
    values = list(HOSTILE.items())
    if every_role or name in target.arguments or name in _read.get(target.endpoint, ()):
        return values
    start = sum(map(ord, f"{target.endpoint}/{name}")) % len(values)
    return [values[(start + step * 3) % len(values)] for step in range(3)]


def walk(app, scene: Scene, *, every_role: bool) -> tuple[Tally, int]:
    tally = Tally()
    walker = Walker(app, scene, tally)
    targets = _targets(app)
    done: set[tuple[str, str, str]] = set()  # (rule, method, parameter) walked
    chosen: dict[tuple[str, str], list[str]] = {}  # (rule, method) -> the roles it is walked as
    for target in targets:
        if not target.allowed:  # 405: once plainly as each person (default: signed in and not)
            for role in (ROLES if every_role else ("staff office", "anonymous")):
                walker.send(target, role, None)
    for _round in range(4):  # parameters first read in a round are walked in the next
        for target in [t for t in targets if t.allowed]:
            target.params |= _read.get(target.endpoint, set())
            todo = [n for n in (*target.arguments, *sorted(target.params))
                    if (target.rule, target.method, n) not in done]
            if not todo:
                continue
            key = (target.rule, target.method)
            if key not in chosen:
                if every_role:
                    chosen[key] = list(ROLES)
                else:  # the person who gets furthest into the route
                    depths = {role: _depth(walker.send(target, role, None)) for role in ROLES}
                    chosen[key] = [max(depths, key=lambda r: (depths[r], -list(ROLES).index(r)))]
            for name in todo:
                done.add((target.rule, target.method, name))
                for value_name, value in _values(name, target, every_role):
                    for role in chosen[key]:
                        walker.send(target, role, (name, walker.far_value(name) if value is None else value),
                                    value_name)
        if all((t.rule, t.method, n) in done for t in targets if t.allowed for n in _read.get(t.endpoint, ())):
            break
    missing = sorted({(t.endpoint, n) for t in targets if t.allowed for n in _read.get(t.endpoint, ())
                      if (t.rule, t.method, n) not in done})
    assert not missing, f"parameters read but never walked: {missing}"
    return tally, len(targets)


# --------------------------------------------------------------------------- the test


@pytest.fixture
def walker_app(db, files, tmp_path):
    app = create_app({"DATABASE": db, "FILES": files, "TESTING": True, "SECRET_KEY": "test-secret",
                      "SESSION_COOKIE_SECURE": False,
                      "EXPORT_DIR": str(tmp_path / "exports")})
    # The app's own request class (it may carry upload limits), recording what views read.
    app.request_class = type("RecordingRequest", (app.request_class,), {"parameter_storage_class": _RecordingDict})
    return app


def _scene(db, files, app) -> Scene:
    scene = Scene(db, files, app)
    scene.issue_receipt()
    for world, attribute in ((scene.home, "batch_id"), (scene.far, "far_batch_id")):
        setattr(scene, attribute, world.run(batches.create_batch, world.staff(), "semester_basic_cadre", YEAR, 1,
                                            now=IN_UPLOAD).id)
    scene.far_item = scene.far.upload(0, course_id=scene.far.course2_id, title="他校的作品")
    with scene.home.uow() as uow:  # an account whose password resets may change: none the walk signs in with
        scene.spare_account = uow.session.scalar(uow.select(Account.id).where(Account.username == "teacher3.013301"))
    with scene.far.uow() as uow:
        scene.far_account = uow.session.scalar(uow.select(Account.id).where(Account.username == "stu0.013302"))
    app.config["NOW"] = IN_UPLOAD
    return scene


@pytest.mark.xdist_group("route_walker")
@pytest.mark.parametrize("every_role", [pytest.param(False, id="default"),
                                        pytest.param(True, id="heavy", marks=pytest.mark.heavy)])
def test_no_route_answers_5xx_to_hostile_input(db, files, walker_app, every_role):
    _read.clear()
    scene = _scene(db, files, walker_app)
    started = time.monotonic()
    tally, targets = walk(walker_app, scene, every_role=every_role)
    seconds = time.monotonic() - started
    engine = db.engine.dialect.name
    print(f"\nroute walker [{engine}{', every role' if every_role else ''}]: {targets} route-methods, "
          f"{len({(c[0], c[1], c[3]) for c in tally.combos})} route-method-parameters, {len(HOSTILE)} values, "
          f"{len(tally.combos)} (route, method, role, parameter, value) cases, {tally.requests} requests, "
          f"{tally.server_errors} 5xx, {seconds:.0f} s; statuses {dict(sorted(tally.statuses.items()))}")
    assert not tally.offenders, f"{len(tally.offenders)} answers of 5xx:\n\n" + "\n\n".join(tally.offenders)
