"""Guardian pages 家長頁面: the linked students; each opens the student pages, where every act is
audited as on behalf of the student (and refused if the school's policy allows viewing only)."""
from __future__ import annotations

from flask import Blueprint, render_template

from web.context import login_required, school_uow
from workflows.central.portfolio_view import guardian_children

bp = Blueprint("guardian", __name__, url_prefix="/guardian")


@bp.get("/")
@login_required("guardian")
def home():
    with school_uow() as (uow, actor):
        return render_template("guardian/home.html", children=guardian_children(uow, actor),
                               may_act=uow.policy.guardians_may_act)
