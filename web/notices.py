"""Paper notices as printable HTML: one A4 page per student (workflows/deadlines/notices.py gathers them)."""
from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape

from workflows.deadlines.notices import NoticeBatch

_templates = Environment(loader=PackageLoader("web", "templates"),
                         autoescape=select_autoescape(["html"]))


def render_notices(batch: NoticeBatch) -> str:
    return _templates.get_template("receipt_notices.html").render(batch=batch)
