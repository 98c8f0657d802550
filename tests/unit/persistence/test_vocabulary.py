"""The stored vocabularies: every code the database constrains is one enum's, and every code has
its label (persistence/vocabulary.py)."""
import re

import pytest
from sqlalchemy import CheckConstraint

from persistence import vocabulary
from persistence.tables import Base
from states import MACHINES
from persistence.vocabulary import (AccountKind, ActorKind, BatchKind, CadreLevel, CertificationRoute, Coded,
                                    Division, EnrolmentStatus, GradeCorrectionKind, GradeCorrectionReason,
                                    GradeRecordKind, ItemKind, OutboxStatus, ReceiptCategory, RecipientKind,
                                    Role, SignInKind, Track, TrainingKind, UnavailabilityReason, WindowKind)
from workflows.core import roles

# (table, column) → the enum whose codes its CHECK allows. States are the machines' (states/).
CONSTRAINED = {
    ("accounts", "kind"): AccountKind,
    ("cadre_records", "level"): CadreLevel,
    ("grade_corrections", "kind"): GradeCorrectionKind,
    ("grade_corrections", "reason"): GradeCorrectionReason,
    ("grade_records", "record_kind"): GradeRecordKind,
    ("items", "kind"): ItemKind,
    ("outbox", "recipient_kind"): RecipientKind,
    ("outbox", "status"): OutboxStatus,
    ("sign_in_sessions", "kind"): SignInKind,
    ("students", "track"): Track,
    ("submission_batches", "kind"): BatchKind,
    ("submission_batches", "track"): Track,
    ("training_sessions", "kind"): TrainingKind,
    ("unavailabilities", "reason"): UnavailabilityReason,
    ("windows", "kind"): WindowKind,
}
# Columns whose codes are a vocabulary's but have no CHECK (none is added without a migration).
UNCONSTRAINED = {
    ("staff_roles", "role"): Role,
    ("staff", "division"): Division,
    ("students", "division"): Division,
    ("students", "status"): EnrolmentStatus,
    ("courses", "route"): CertificationRoute,
    ("receipts", "category"): ReceiptCategory,
    ("items", "category"): vocabulary.PerformanceCategory,
    ("items", "resolution"): vocabulary.DisputeResolution,
    ("exploration_records", "career_group"): vocabulary.CareerGroup,
    ("audit_log", "actor_kind"): ActorKind,
    ("audit_log", "on_behalf_kind"): ActorKind,
    ("audit_log", "subject_kind"): vocabulary.SubjectKind,
    ("items", "document_kind"): vocabulary.FileKind,
    ("items", "media_kind"): vocabulary.FileKind,
    ("consultation_records", "file_kind"): vocabulary.FileKind,
}
_IN = re.compile(r"\b(\w+) IN \(('[^)]*)\)")
_QUOTED = re.compile(r"'([^']*)'")
_EQUALS = re.compile(r"\b(\w+) = '([^']*)'")


def vocabularies() -> list[type[Coded]]:
    return [value for value in vars(vocabulary).values()
            if isinstance(value, type) and issubclass(value, Coded) and value is not Coded]


def text_checks() -> dict[tuple[str, str], set[str]]:
    """(table, column) → the quoted values of every `column IN ('…')` of the models' CHECKs."""
    found: dict[tuple[str, str], set[str]] = {}
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                for column, values in _IN.findall(str(constraint.sqltext)):
                    if column != "state":
                        found.setdefault((table.name, column), set()).update(_QUOTED.findall(values))
    return found


def test_every_constrained_column_allows_exactly_its_vocabulary():
    found = text_checks()
    assert set(found) == set(CONSTRAINED), "a CHECK of codes without its enum here (or the reverse)"
    for key, enum in CONSTRAINED.items():
        assert found[key] == set(enum.codes()), key


def test_every_code_a_check_names_is_one_of_its_column():
    compared = [(table.name, column, code) for table in Base.metadata.sorted_tables
                for constraint in table.constraints if isinstance(constraint, CheckConstraint)
                for column, code in _EQUALS.findall(str(constraint.sqltext))]
    assert {(table, column) for table, column, _ in compared} == {
        ("accounts", "kind"), ("grade_corrections", "kind"), ("items", "kind")}
    for table, column, code in compared:
        assert code in CONSTRAINED[(table, column)].codes(), (table, column, code)


@pytest.mark.parametrize("key, enum", [*CONSTRAINED.items(), *UNCONSTRAINED.items()], ids=str)
def test_every_code_fits_its_column(key, enum):
    table, column = key
    length = Base.metadata.tables[table].columns[column].type.length
    assert max(len(code) for code in enum.codes()) <= length


@pytest.mark.parametrize("enum", vocabularies(), ids=lambda e: e.__name__)
def test_every_code_has_a_label_of_its_own(enum):
    assert len(enum) > 0
    for member in enum:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", member.value), member
        assert isinstance(member.label, str) and member.label.strip() == member.label != "", member
        assert member.label != member.value, member
    # Labels are read back as input (CSV columns accept 校級 for school): one code each.
    assert len(set(enum.labels().values())) == len(enum)
    assert enum.codes() == tuple(enum.labels()) == tuple(member.value for member in enum)


def test_every_vocabulary_is_tested():
    named = set(CONSTRAINED.values()) | set(UNCONSTRAINED.values())
    assert set(vocabularies()) - named == {vocabulary.StaffRecordKind}  # not a column: audit rows' prefix


def test_a_code_shared_with_a_wider_vocabulary_has_its_label():
    for narrower in (AccountKind, RecipientKind):
        for member in narrower:
            assert member.label == ActorKind(member.value).label
    for member in ReceiptCategory:
        if member.value in ItemKind.codes():
            assert member.label == ItemKind(member.value).label


def test_every_machine_and_staff_record_is_an_audit_subject():
    subjects = set(vocabulary.SubjectKind.codes())
    assert set(MACHINES) <= subjects and set(ItemKind.codes()) <= subjects
    for kind in vocabulary.StaffRecordKind:
        assert vocabulary.SubjectKind(f"{kind}_record").label == kind.label
    for kind in ItemKind:
        assert vocabulary.SubjectKind(kind.value).label == kind.label


def test_codes_are_found_by_value_and_compare_as_text():
    assert Role("registry") is Role.REGISTRY and Role.REGISTRY == "registry"
    assert f"{CadreLevel.SCHOOL}" == "school" and CadreLevel.SCHOOL.label == "校級"
    with pytest.raises(ValueError):
        Role("nobody")


def test_the_route_teachers_name_every_route():
    assert set(vocabulary.ROUTE_TEACHERS) == set(CertificationRoute.codes())
    assert all(vocabulary.ROUTE_TEACHERS.values())


def test_the_batches_carry_item_kinds():
    assert set(vocabulary.ITEM_KIND_OF_BATCH) <= set(BatchKind.codes())
    assert set(vocabulary.ITEM_KIND_OF_BATCH.values()) == set(ItemKind.codes())


def test_the_roles_module_reads_its_labels_from_the_vocabulary():
    assert roles.Role is Role and roles.Division is Division and roles.EnrolmentStatus is EnrolmentStatus
    for labels, enum in ((roles.ROLE_LABELS, Role), (roles.DIVISION_LABELS, Division),
                         (roles.ENROLMENT_STATUS_LABELS, EnrolmentStatus)):
        assert list(labels) == list(enum) and all(type(key) is enum for key in labels)
        assert labels == enum.labels()
