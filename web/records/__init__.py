"""Staff-entered records 學校端登錄資料 (issue 5): one module of routes per kind, on one blueprint
under /staff/records. Thin: parse, call workflows/records, render."""
from __future__ import annotations

from flask import Blueprint, render_template
from marshmallow import fields

from web.context import login_required, school_uow
from web.forms import VersionForm
from workflows.core.errors import Conflict, InvalidInput, RuleViolation
from workflows.records import common

bp = Blueprint("records", __name__, url_prefix="/staff/records")
# Refusals the person can act on: the page again, with the reason and what was typed.
FIXABLE = (RuleViolation, InvalidInput, Conflict)

# kind → (endpoint of its list page, what the page is for)
PAGES = {
    common.CADRE: ("records.cadre_list", "訓育組登錄：校級、班級、社團幹部"),
    common.GRADE: ("records.grade_list", "註冊組登錄：學期成績、補考、重修、補修、學分抵免"),
    common.CONSULTATION: ("records.consultation_list", "課程諮詢教師登錄：諮詢日期、地點、內容與建議"),
    common.EXPLORATION: ("records.exploration_list", "輔導室登錄：學群探索活動"),
}


class DeleteForm(VersionForm):
    """A record's delete form: the version the page showed and the reason as typed (the workflow
    requires it and checks its length)."""

    reason = fields.String(load_default="")


@bp.get("")
@login_required("staff")
def index():
    with school_uow() as (_uow, actor):
        kinds = [(kind, common.LABELS[kind], endpoint, about) for kind, (endpoint, about) in PAGES.items()]
        readable = {kind for kind in PAGES if common.may_read(actor, kind)}
        return render_template("records/index.html", kinds=kinds, readable=readable)


from web.records import cadre, consultation, exploration, grades  # noqa: E402,F401 - routes
