"""What the record pages share: the blueprint under /staff/records, the refusals a page answers by
showing itself again, and the delete form."""
from __future__ import annotations

from flask import Blueprint
from marshmallow import fields

from web.forms import VersionForm
from workflows.core.errors import Conflict, InvalidInput, RuleViolation

bp = Blueprint("records", __name__, url_prefix="/staff/records")
# Refusals the person can act on: the page again, with the reason and what was typed.
FIXABLE = (RuleViolation, InvalidInput, Conflict)


class DeleteForm(VersionForm):
    """A record's delete form: the version the page showed and the reason as typed (the workflow
    requires it and checks its length)."""

    reason = fields.String(load_default="")
