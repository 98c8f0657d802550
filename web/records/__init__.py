"""Staff-entered records 學校端登錄資料 (issue 5): one module of routes per kind, on one blueprint
under /staff/records. Thin: parse, call workflows/records, render."""
from __future__ import annotations

from flask import render_template

from web.context import login_required, school_uow
from web.records import cadre, consultation, exploration, grades
from web.records.common import bp
from workflows.records import common as record_kinds  # not `common`: web.records.common is this package's own

# The blueprint app.py registers, and the route modules that put their pages on it.
__all__ = ["bp", "cadre", "consultation", "exploration", "grades"]

# kind → (endpoint of its list page, what the page is for)
PAGES = {
    record_kinds.CADRE: ("records.cadre_list", "訓育組登錄：校級、班級、社團幹部"),
    record_kinds.GRADE: ("records.grade_list", "註冊組登錄：學期成績、補考、重修、補修、學分抵免"),
    record_kinds.CONSULTATION: ("records.consultation_list", "課程諮詢教師登錄：諮詢日期、地點、內容與建議"),
    record_kinds.EXPLORATION: ("records.exploration_list", "輔導室登錄：學群探索活動"),
}


@bp.get("")
@login_required("staff")
def index():
    with school_uow() as (_uow, actor):
        kinds = [(kind, record_kinds.LABELS[kind], endpoint, about) for kind, (endpoint, about) in PAGES.items()]
        readable = {kind for kind in PAGES if record_kinds.may_read(actor, kind)}
        return render_template("records/index.html", kinds=kinds, readable=readable)
