"""A hypothesis stateful test of the whole workflow (issue 7, RELIABILITY.md), on SQLite and
PostgreSQL: random sequences of uploads, submissions, withdrawals, certifications, rejections,
resubmissions, file changes, deletions, selections, the clock crossing window boundaries with
the deadline sweep (workflows/deadlines/run.run_due), central submission, and receipt answers,
across three students. Every rule calls the real workflow; a DomainError is a valid refusal.

After every step:
- caps: no student exceeds the policy's upload (per semester, per year) or selection caps;
- every stored state is one its machine knows;
- a refused request changed nothing (no state, no audit row);
- every observed change moved along an edge of the machine with the rule's event(s), and the
  count of state-changing audit rows equals the count of transitions observed;
- independently of the model, every item's and receipt's audit trail replays from the initial
  state to its stored state through the machine's edges only;
- a certified outcome's files are the ones certified: file hashes equal the certified_* hashes,
  equal the hash when it was certified, and the file store holds those bytes intact.

    python -m pytest -s -p no:cacheprovider tests/reliability/test_stateful.py [--heavy]

Figures (examples, steps, outcomes per rule): printed, and saved in
test-artifacts/reliability/stateful.json.
"""
from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, \
    run_state_machine_as_test
from sqlalchemy import func, select

from persistence.tables import AuditEntry, Item, Receipt
from states import MACHINES, edges, state_ids
from tests import samples
from tests.artifacts import update_json
from tests.world import AFTER_CERTIFICATION, AFTER_SELECTION, IN_RECEIPT, IN_SELECTION, IN_TAIL, \
    IN_UPLOAD, YEAR, World
from workflows.items import bulk, certification, selection
from workflows.deadlines import run as deadlines
from workflows.central import receipts
from workflows.core.errors import DomainError
from workflows.items.rules import SELECTED_STATES, UPLOADED_STATES
from workflows.items.uploads import Upload, delete_item, edit_item, upload_course_outcome, upload_performance

ARTIFACT = Path(__file__).resolve().parents[2] / "test-artifacts" / "reliability" / "stateful.json"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# The clock only moves forward, across every boundary of the World's calendar (tests/world.py).
MOMENTS = [
    IN_UPLOAD,                  # 114-1 upload window; performances all year
    utc(2026, 2, 3, 15, 59),    # the last minute of 114-1's upload window (Taipei 23:59)
    IN_TAIL,                    # teachers only (certification tail)
    AFTER_CERTIFICATION,        # 114-1 closed: drafts locked, waiting items not certified
    utc(2026, 4, 1, 2, 0),      # 114-2 upload window
    utc(2026, 7, 16, 2, 0),     # 114-2 tail
    utc(2026, 8, 1, 1, 0),      # selection window (performance uploads closed)
    IN_SELECTION,
    AFTER_SELECTION,            # selections frozen: central submission
    IN_RECEIPT,                 # students confirm or dispute
    utc(2026, 10, 20, 2, 0),    # confirmation closed: deemed confirmed
]
# The MOMENTS at which a semester's course-outcome upload window is open: {index: semester}.
EDITABLE_SEMESTER = {0: 1, 1: 1, 4: 2}
SWEEP_EVENTS = {"lock", "expire_certification", "deem_confirmed"}
# States of a course outcome whose certification stands (the files are the certified ones).
CERTIFICATION_STANDS = {"certified", "selected", "unselected", "submitted_central", "receipt_confirmed",
                        "deemed_confirmed", "disputed", "resolved"}
MACHINE_EVENTS = {kind: {e.event for e in edges(machine)} for kind, machine in MACHINES.items()}
EDGES = {kind: {(e.source, e.target, e.event) for e in edges(machine)} for kind, machine in MACHINES.items()}
INITIAL = {kind: machine.initial_state.id for kind, machine in MACHINES.items()}

_codes = itertools.count(200001)  # a school per example: each starts from an empty world


class Figures:
    def __init__(self):
        self.examples = 0
        self.steps = 0
        self.outcomes: Counter = Counter()
        self.transitions = 0
        self.furthest = 0


class Workflow(RuleBasedStateMachine):
    db = files = None
    figures: Figures

    def __init__(self):
        super().__init__()
        self.world = World(self.db, self.files, code=f"{next(_codes):06d}")
        self.figures.examples += 1
        self.students = [self.world.student(n) for n in range(len(self.world.student_ids))]
        self.teachers = [self.world.teacher, self.world.staff(self.world.other_teacher_id)]
        self.staff = self.world.staff()
        self.clock = 0
        self.since_advance = 0
        self.serial = 0
        self.items: list[int] = []
        self.receipts: list[int] = []
        self.transitions = 0  # state changes observed, each one audited
        self.created = 0  # items and receipts created (upload / issue audit rows)
        self.certified_hash: dict[int, tuple] = {}
        self.course_of: dict[int, int | None] = {}
        self.known = self._snapshot()
        with self.world.uow() as uow:
            self.policy = uow.policy

    # -- helpers --------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return MOMENTS[self.clock]

    def _snapshot(self) -> dict[tuple[str, int], tuple]:
        with self.world.uow() as uow:
            out = {("item", i.id): (i.kind, i.state) for i in uow.session.scalars(uow.select(Item))}
            out.update({("receipt", r.id): ("receipt", r.state)
                        for r in uow.session.scalars(uow.select(Receipt))})
        return out

    def _audit_count(self) -> int:
        with self.world.uow() as uow:
            return uow.session.scalar(select(func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.school_id == self.world.school_id))

    def _pick(self, ids: list[int], pick: int) -> int:
        return ids[pick % len(ids)]

    def _target(self, pick: int, states: set[str], kind: str | None = None) -> int:
        """Mostly an item the move is meant for (in `states`), now and then any item: the
        refusals are part of the test too."""
        aimed = [i for i in self.items if self.known[("item", i)][1] in states
                 and (kind is None or self.known[("item", i)][0] == kind)]
        return self._pick(aimed if aimed and pick % 5 else self.items, pick)

    def _certifier(self, item_id: int, wrong: bool):
        """The course teacher of the outcome (or, when `wrong`, the other one)."""
        mine = self.course_of.get(item_id) != self.world.course2_id
        return self.teachers[int(mine == wrong)]

    def _document(self) -> Upload:
        self.serial += 1
        return Upload.of(samples.pdf(f"stateful {self.world.code} {self.serial}"), "作品.pdf")

    def act(self, name: str, events: set[str], call) -> object:
        """Run one request; a DomainError is a refusal and must change nothing. Otherwise every
        change must be an edge of its machine with one of `events`."""
        self.figures.steps += 1
        self.since_advance += 1
        audits = self._audit_count()
        try:
            result = call()
        except DomainError as refusal:
            self.figures.outcomes[f"{name}: refused {getattr(refusal, 'rule', None) or refusal.code}"] += 1
            after = self._snapshot()
            assert after == self.known, f"{name} was refused ({refusal.message}) but changed {after}"
            assert self._audit_count() == audits, f"{name} was refused but wrote audit rows"
            return None
        self.figures.outcomes[f"{name}: done"] += 1
        self._observe(name, events)
        return result

    def _observe(self, name: str, events: set[str]) -> None:
        after = self._snapshot()
        assert self.known.keys() <= after.keys(), "a row vanished"
        for key, (kind, state) in after.items():
            if key not in self.known:
                assert state == INITIAL[kind], (name, key, state)
                self.created += 1
                (self.items if key[0] == "item" else self.receipts).append(key[1])
                if key[0] == "item":
                    with self.world.uow() as uow:
                        self.course_of[key[1]] = uow.get(Item, key[1]).course_id
                continue
            before = self.known[key][1]
            if before != state:
                assert any((before, state, event) in EDGES[kind] for event in events), \
                    f"{name} moved {key} {before} → {state}, not along {sorted(events)}"
                self.transitions += 1
                self.figures.transitions += 1
                if kind == "course_outcome" and state == "certified" and before == "submitted":
                    with self.world.uow() as uow:
                        item = uow.get(Item, key[1])
                        self.certified_hash[key[1]] = (item.document_sha256, item.media_sha256)
        self.known = after

    # -- rules ----------------------------------------------------------------------------------

    @initialize(per_student=st.integers(0, 3), performances=st.integers(0, 2),
                start=st.sampled_from([0, 2, 3, 4, 6, 6, 7]), replace_certified=st.booleans())
    def seed(self, per_student, performances, start, replace_certified):
        """Start with some outcomes (waiting, certified every other one) and performances, and
        the clock at a random period, so that one example of ~30 steps reaches selection and
        receipts as often as uploads. In about half the examples two students then replace a
        certified outcome's file while the window is still open — one with the same bytes, one
        with others — which the random rules reach too seldom on their own."""
        for n, student in enumerate(self.students):
            for k in range(per_student):
                item_id = self.act("upload_outcome", set(), lambda: self.world.run(
                    upload_course_outcome, student, student_id=self.world.student_ids[n],
                    course_id=self.world.course_id, title="成果", document=self._document(), now=self.now))
                self.act("submit", {"submit"},
                         lambda: self.world.run(certification.submit, student, item_id, now=self.now))
                if k % 2 == 0:
                    self.act("certify", {"certify"}, lambda: self.world.run(
                        certification.certify, self.teachers[0], item_id, now=self.now))
            for _ in range(performances):
                self.act("upload_performance", set(), lambda: self.world.run(
                    upload_performance, student, student_id=self.world.student_ids[n],
                    academic_year=YEAR, category="competition", title="表現", document=self._document(),
                    now=self.now))
        if replace_certified:
            for same_file, item_id in zip((True, False), self._certified_editable()[::per_student or 1]):
                self._replace_file(item_id, same_file)
        if start:
            self._advance(start)

    @rule(n=st.integers(0, 2), course=st.sampled_from(["course_id", "course2_id", "course_sem2_id"]))
    def upload_outcome(self, n, course):
        self.act("upload_outcome", set(), lambda: self.world.run(
            upload_course_outcome, self.students[n], student_id=self.world.student_ids[n],
            course_id=getattr(self.world, course), title=f"成果{self.serial}", document=self._document(),
            now=self.now))

    @rule(n=st.integers(0, 2))
    def upload_performance(self, n):
        self.act("upload_performance", set(), lambda: self.world.run(
            upload_performance, self.students[n], student_id=self.world.student_ids[n],
            academic_year=YEAR, category="competition", title=f"表現{self.serial}",
            document=self._document(), now=self.now))

    def _student_of(self, item_id: int):
        with self.world.uow() as uow:
            return self.students[self.world.student_ids.index(uow.get(Item, item_id).student_id)]

    ITEM_MOVES = ["submit", "withdraw", "resubmit", "certify", "reject", "change_file",
                  "change_file_same", "delete", "select", "unselect"]

    @precondition(lambda self: self.items)
    @rule(move=st.sampled_from(ITEM_MOVES), pick=st.integers(0, 10_000), wrong=st.integers(0, 4))
    def item_move(self, move, pick, wrong):
        """One request on one item: the moves share a rule so each is drawn as often."""
        if move in ("submit", "withdraw", "resubmit"):
            self.student_move(pick, move)
        elif move in ("certify", "reject"):
            self.teacher_move(pick, wrong, int(move == "certify"))
        elif move.startswith("change_file"):
            self.change_file(pick, move == "change_file_same")
        elif move == "delete":
            self.delete(pick)
        else:
            self.selection_move(pick, move == "select")

    def student_move(self, pick, event):
        item_id = self._target(pick, {"submit": {"draft"}, "withdraw": {"submitted"},
                                      "resubmit": {"rejected"}}[event], "course_outcome")
        self.act(event, {event}, lambda: self.world.run(
            getattr(certification, event), self._student_of(item_id), item_id, now=self.now))

    def teacher_move(self, pick, wrong, certify):
        item_id = self._target(pick, {"submitted"}, "course_outcome")
        teacher = self._certifier(item_id, wrong == 0)
        certify = certify > 0
        if certify:
            call = lambda: self.world.run(certification.certify, teacher, item_id, now=self.now)
        else:
            call = lambda: self.world.run(certification.reject, teacher, item_id,
                                          reason="請補充學習心得", now=self.now)
        self.act("certify" if certify else "reject", {"certify" if certify else "reject"}, call)

    @precondition(lambda self: any(s == "submitted" for _, s in self.known.values()))
    @rule(teacher=st.integers(0, 1), everything=st.integers(0, 4))
    def bulk_certify_waiting(self, teacher, everything):
        """A teacher certifies his waiting outcomes at once (now and then everyone's, which is
        refused as a whole: all or nothing)."""
        actor = self.teachers[teacher]
        waiting = [i for i in self.items if self.known[("item", i)][1] == "submitted"
                   and (everything == 0 or self._certifier(i, False) is actor)]
        self.act("bulk_certify", {"certify"}, lambda: self.world.run(
            bulk.bulk_certify, actor, waiting, now=self.now))

    def change_file(self, pick, same_file):
        """The student replaces the document: the same bytes keep a certification, others void it."""
        self._replace_file(self._target(pick, {"certified", "unselected"}, "course_outcome"), same_file)

    def _replace_file(self, item_id: int, same_file: bool) -> None:
        with self.world.uow() as uow:
            item = uow.get(Item, item_id)
            current = item.document_sha256
        if same_file and current:
            with self.files.open(current) as stream:
                document = Upload.of(stream.read(), "作品.pdf")
        else:
            document = self._document()
        before, done = self.known[("item", item_id)][1], self.figures.outcomes["change_file: done"]
        self.act("change_file", {"void_certification"}, lambda: self.world.run(
            edit_item, self._student_of(item_id), item_id, document=document, now=self.now))
        if before == "certified" and self.figures.outcomes["change_file: done"] > done:
            kept = self.known[("item", item_id)][1] == before
            self.figures.outcomes["certified file replaced by the same bytes: certification kept" if kept
                                  else "certified file replaced: certification voided"] += 1

    def _certified_editable(self) -> list[int]:
        """Certified outcomes whose semester's upload window is open now (edits need it)."""
        semester = EDITABLE_SEMESTER.get(self.clock)
        return [i for i in self.items if self.known[("item", i)] == ("course_outcome", "certified")
                and (2 if self.course_of.get(i) == self.world.course_sem2_id else 1) == semester]

    @precondition(lambda self: self._certified_editable())
    @rule(pick=st.integers(0, 10_000), same_file=st.booleans())
    def replace_a_certified_file(self, pick, same_file):
        """The student replaces a certified outcome's file while the upload window is open: other
        bytes must void the certification, the same bytes keep it. A rule of its own (item_move
        rarely aims there in the window), and the test requires both to have happened."""
        self._replace_file(self._pick(self._certified_editable(), pick), same_file)

    def delete(self, pick):
        item_id = self._target(pick, {"draft", "rejected", "uploaded", "unselected"})
        self.act("delete", {"delete"}, lambda: self.world.run(
            delete_item, self._student_of(item_id), item_id, now=self.now))

    def selection_move(self, pick, select):
        item_id = self._target(pick, {"certified", "unselected", "uploaded"} if select else {"selected"})
        move = selection.select if select else selection.unselect
        self.act(move.__name__, {move.__name__}, lambda: self.world.run(
            move, self._student_of(item_id), item_id, now=self.now))

    # A few requests in each period before the clock moves on: the whole year fits in one example.
    @precondition(lambda self: self.clock < len(MOMENTS) - 1 and self.since_advance >= 2)
    @rule(steps=st.integers(1, 3))
    def advance_clock_and_sweep(self, steps):
        """Time passes across window boundaries; the deadline sweep runs as the scheduler would."""
        self._advance(steps)

    def _advance(self, steps: int) -> None:
        self.clock = min(self.clock + steps, len(MOMENTS) - 1)
        self.since_advance = 0
        self.figures.furthest = max(self.figures.furthest, self.clock)
        self.figures.steps += 1
        result = deadlines.run_due(self.db, self.files, self.now, school_ids={self.world.school_id})
        assert not result.errors and all(not s.errors for s in result.schools), result
        self.figures.outcomes["deadline sweep"] += 1
        self._observe("deadline sweep", SWEEP_EVENTS)

    # When the time is right: from the selection period on (still open → refused, then allowed).
    @precondition(lambda self: self.now >= IN_SELECTION)
    @rule(kind=st.sampled_from(["course_outcome", "performance"]))
    def submit_central(self, kind):
        self.act(f"submit_central {kind}", {"submit_central"}, lambda: self.world.run(
            receipts.submit_selected, self.staff, kind=kind, academic_year=YEAR,
            confirmation_window_id=self.world.receipt_window_id, now=self.now))

    @precondition(lambda self: self.receipts)
    @rule(pick=st.integers(0, 10_000), confirm=st.booleans())
    def answer_receipt(self, pick, confirm):
        issued = [r for r in self.receipts if self.known[("receipt", r)][1] == "issued"]
        receipt_id = self._pick(issued if issued and pick % 5 else self.receipts, pick)
        with self.world.uow() as uow:
            student = self.students[self.world.student_ids.index(uow.get(Receipt, receipt_id).student_id)]
        if confirm:
            self.act("confirm", {"confirm", "confirm_receipt"}, lambda: self.world.run(
                receipts.confirm, student, receipt_id, now=self.now))
        else:
            self.act("dispute", {"dispute"}, lambda: self.world.run(
                receipts.dispute, student, receipt_id, reason="成果檔案與上傳的不同", now=self.now))

    # -- invariants -----------------------------------------------------------------------------

    @invariant()
    def caps_hold(self):
        policy = self.policy
        with self.world.uow() as uow:
            rows = list(uow.session.execute(uow.select(Item.student_id).add_columns(
                Item.kind, Item.academic_year, Item.semester, Item.state)))
        for student_id in self.world.student_ids:
            mine = [r for r in rows if r.student_id == student_id]
            for kind in ("course_outcome", "performance"):
                selected = sum(r.kind == kind and r.state in SELECTED_STATES[kind] for r in mine)
                assert selected <= policy.selection_cap(kind), (student_id, kind, selected)
            outcomes = [r for r in mine if r.kind == "course_outcome"
                        and r.state in UPLOADED_STATES["course_outcome"]]
            for semester in (1, 2):
                assert sum(r.semester == semester for r in outcomes) <= policy.outcome_uploads_per_semester
            if policy.outcome_uploads_per_year is not None:
                assert len(outcomes) <= policy.outcome_uploads_per_year

    @invariant()
    def states_are_known_to_their_machines(self):
        for (table, row_id), (kind, state) in self._snapshot().items():
            assert state in state_ids(MACHINES[kind]), (table, row_id, state)

    @invariant()
    def audit_rows_equal_transitions(self):
        with self.world.uow() as uow:
            rows = list(uow.session.execute(uow.select(AuditEntry.subject_kind).add_columns(
                AuditEntry.subject_id, AuditEntry.event, AuditEntry.from_state, AuditEntry.to_state)
                .where(AuditEntry.subject_kind.in_(list(MACHINES))).order_by(AuditEntry.id)))
        changes = [r for r in rows if r.event in MACHINE_EVENTS[r.subject_kind]]
        assert len(changes) == self.transitions
        assert sum(r.from_state is None for r in rows) == self.created

        # Independently of the model: each trail replays to the stored state along edges only.
        state: dict[tuple[str, int], str] = {}
        for r in rows:
            key = ("receipt" if r.subject_kind == "receipt" else "item", r.subject_id)
            if r.from_state is None:
                assert key not in state and r.to_state == INITIAL[r.subject_kind], r
            else:
                assert state.get(key) == r.from_state, (r, state.get(key))
                if r.event in MACHINE_EVENTS[r.subject_kind]:
                    assert (r.from_state, r.to_state, r.event) in EDGES[r.subject_kind], r
                else:  # an audited change that is no transition (an edit) keeps the state
                    assert r.from_state == r.to_state, r
            state[key] = r.to_state
        assert state == {key: s for key, (_, s) in self.known.items()}

    @invariant()
    def certified_files_are_the_certified_ones(self):
        with self.world.uow() as uow:
            outcomes = list(uow.session.scalars(uow.select(Item).where(Item.kind == "course_outcome")))
        for item in outcomes:
            if item.state not in CERTIFICATION_STANDS:
                continue
            files = (item.document_sha256, item.media_sha256)
            assert item.certified_at is not None and any(files), item.id
            assert (item.certified_document_sha256, item.certified_media_sha256) == files, item.id
            assert self.certified_hash[item.id] == files, item.id
            for digest in filter(None, files):
                assert self.files.verify(digest), (item.id, digest)


def test_random_workflows_keep_every_invariant(db, files, heavy):
    figures = Figures()
    machine = type("WorkflowOn" + db.dialect.title(), (Workflow,),
                   {"db": db, "files": files, "figures": figures})
    examples, steps = (200, 60) if heavy else (20, 30)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, derandomize=True,
        database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))

    done = sum(v for k, v in figures.outcomes.items() if k.endswith("done") or k == "deadline sweep")
    out = {"engine": db.dialect, "heavy": heavy, "max_examples": examples, "step_count": steps,
           "examples_run": figures.examples, "steps_run": figures.steps,
           "requests_done": done, "requests_refused": figures.steps - done,
           "transitions_audited": figures.transitions,
           "furthest_moment": MOMENTS[figures.furthest].isoformat(),
           "outcomes": dict(sorted(figures.outcomes.items()))}
    print(f"\nstateful[{db.dialect}]: examples {figures.examples}, steps {figures.steps}, "
          f"done {done}, refused {figures.steps - done}, transitions {figures.transitions}")
    update_json(ARTIFACT, lambda saved: saved.update({f"stateful[{db.dialect}{'-heavy' if heavy else ''}]": out}),
                end="\n", ensure_ascii=False, indent=2, sort_keys=True)
    assert figures.examples > 0 and figures.steps > 0  # the machine really ran
    # The case a certification's binding to its files exists for was really exercised.
    assert figures.outcomes["certified file replaced: certification voided"] > 0, figures.outcomes
    assert figures.outcomes["certified file replaced by the same bytes: certification kept"] > 0, figures.outcomes
    assert figures.transitions > 0
