"""Who people are in a school: the rules about roles, divisions and enrolment statuses.

The codes and their zh-TW labels are stored vocabularies (persistence/vocabulary.py); they are
re-exported here with the {member: label} dicts the workflows read, so `from workflows.core.roles
import Role, ROLE_LABELS` keeps working. A label is read as `Role.REGISTRY.label`.
"""
from __future__ import annotations

from persistence.vocabulary import Division, EnrolmentStatus, Role

__all__ = ["DEPARTED_STATUSES", "DIVISION_LABELS", "Division", "ENROLMENT_STATUS_LABELS",
           "EnrolmentStatus", "ID_NUMBER_ROLES", "ROLE_LABELS", "Role"]

ROLE_LABELS: dict[Role, str] = {role: role.label for role in Role}
DIVISION_LABELS: dict[Division, str] = {division: division.label for division in Division}
ENROLMENT_STATUS_LABELS: dict[EnrolmentStatus, str] = {status: status.label for status in EnrolmentStatus}

# Roles that may see a student's full ID number (身分證號); everyone else sees it masked.
ID_NUMBER_ROLES = frozenset({Role.REGISTRY, Role.EQUIPMENT_SECTION, Role.STUDENT_ACTIVITIES})

# Statuses after which a student has left the school: the retention clock runs (issue 3).
DEPARTED_STATUSES = frozenset({EnrolmentStatus.GRADUATED, EnrolmentStatus.TRANSFERRED_OUT,
                               EnrolmentStatus.WITHDRAWN})
