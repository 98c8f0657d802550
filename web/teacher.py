"""Teacher pages 教師頁面: the certification queue (own courses and proxied ones), preview,
certify, reject with a reason, bulk certify with confirmation and undo.

Thin: each view parses the request, calls workflows/items/queues.py (what to list) or
workflows/items/certification.py and workflows/items/bulk.py (what to change), and renders. Every form
carries the version the page showed, so a stale page is refused instead of overwriting."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError, fields

from web.context import login_required, now, school_uow
from web.forms import Form, one_message, parse
from web.params import Int, ident, integer, integers
from workflows.items import bulk, certification
from workflows.core.errors import DomainError, Forbidden, InvalidInput, NotFound
from workflows.items.queues import QUEUE_STATES, SORTS, certification_queue, queue_item, queue_rows

bp = Blueprint("teacher", __name__, url_prefix="/teacher")

STATE_FILTERS = {"submitted": "待認證", "certified": "認證通過", "rejected": "認證失敗"}
assert set(STATE_FILTERS) == set(QUEUE_STATES)


class BackForm(Form):
    """The queue page an action came from (its query or a hidden field), to return to."""

    back = fields.String(load_default="")


class ReasonForm(Form):
    """A rejection's reason as typed (the workflow requires it), shown again if refused."""

    reason = fields.String(load_default="")


class ItemVersionForm(Form):
    """The item's version the page showed: a stale page is refused instead of overwriting."""

    version = Int(label="項目版本", required=True, error_messages={"required": "頁面缺少項目版本資訊，請重新載入頁面後再操作。"})


class Chosen(fields.Field):
    """A queue checkbox's value 「<item id>:<version>」 as (item id, the version the page showed).
    Nobody types it: anything else asks for a reload."""

    default_error_messages = one_message("勾選的項目資料不正確，請重新載入頁面後再操作。")
    item_id, version = Int(label="項目編號", low=1), Int(label="版本")

    def _deserialize(self, value, attr, data, **kwargs):
        item_id, _, version = str(value).partition(":")
        try:
            return self.item_id.deserialize(item_id), self.version.deserialize(version)
        except ValidationError:
            raise self.make_error("invalid") from None


class SelectionForm(Form):
    item = fields.List(Chosen(), load_default=list)


class UndoForm(Form):
    """The items to undo, and (`shown`, 「<item id>:<version>」) the versions the result page showed."""

    item = fields.List(Int(label="項目編號", low=1), load_default=list)
    shown = fields.List(Chosen(), load_default=list)


def waited(span: timedelta | None) -> str:
    """How long an item has waited, as people say it: 「3 天 4 小時」."""
    if span is None:
        return "—"
    seconds = max(0, int(span.total_seconds()))
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    if days:
        return f"{days} 天 {hours} 小時"
    return f"{hours} 小時 {minutes} 分"


def _render(template: str, **context):
    return render_template(template, now=now(), waited=waited, state_filters=STATE_FILTERS,
                           sorts=SORTS, **context)


def _back() -> str:
    """Where to return after an action: the queue page the teacher came from (its filters kept),
    rebuilt from its query, so it can never lead anywhere else."""
    parts = urlsplit(parse(BackForm, request.values)["back"])
    if parts.scheme or parts.netloc or parts.path != url_for(".queue"):
        return url_for(".queue")
    query = urlencode(parse_qsl(parts.query))
    return url_for(".queue") + (f"?{query}" if query else "")


@bp.get("/queue")
@login_required("staff")
def queue():
    args = request.args
    with school_uow() as (uow, actor):
        page = certification_queue(
            uow, actor, now=now(), course_id=ident(args.get("course"), field="course", label="課程"),
            class_name=args.get("class") or None, state=args.get("state") or "submitted",
            sort=args.get("sort") or "waiting",
            page=integer(args.get("page"), field="page", label="頁碼", low=1, default=1))
    return _render("teacher/queue.html", queue=page, here=request.full_path.rstrip("?"),
                   page_url=lambda n: url_for(".queue", **{**args.to_dict(), "page": n}))


def _item_page(item_id: int, *, error: str | None = None, reason: str = "", status: int = 200):
    with school_uow() as (uow, actor):
        shown = queue_item(uow, actor, item_id, now=now())
    return _render("teacher/item.html", item=shown, row=shown.row, error=error, reason=reason,
                   back=_back()), status


@bp.get("/items/<int:item_id>")
@login_required("staff")
def item(item_id: int):
    return _item_page(item_id)


def _decide(item_id: int, event: str):
    reason = parse(ReasonForm, request.form)["reason"]
    try:
        version = parse(ItemVersionForm, request.form)["version"]
        with school_uow() as (uow, actor):
            # Others' items: 404. The workflow then reads the item afresh, locked, and checks
            # the version on that read.
            title = _rows_or_404(uow, actor, [item_id])[0].title
            if event == "certify":
                certification.certify(uow, actor, item_id, expected_version=version, now=now())
            else:
                certification.reject(uow, actor, item_id, reason=reason, expected_version=version,
                                     now=now())
    except (NotFound, Forbidden):
        raise
    except DomainError as refused:
        # Shown on the item as it is now, the typed reason kept; nothing was changed.
        return _item_page(item_id, error=refused.message, reason=reason, status=refused.status)
    flash(f"已認證通過「{title}」。" if event == "certify" else f"已將「{title}」退回（認證失敗），學生會看到退回原因。")
    return redirect(_back())


@bp.post("/items/<int:item_id>/certify")
@login_required("staff")
def certify(item_id: int):
    return _decide(item_id, "certify")


@bp.post("/items/<int:item_id>/reject")
@login_required("staff")
def reject(item_id: int):
    return _decide(item_id, "reject")


def _selection() -> dict[int, int]:
    """{item id: version the page showed} from the checkboxes' "id:version" values."""
    return dict(parse(SelectionForm, request.form)["item"])


def _rows_or_404(uow, actor, item_ids):
    rows = queue_rows(uow, actor, item_ids, now=now())
    missing = set(item_ids) - {r.item_id for r in rows}
    if missing:
        raise NotFound(f"找不到學習歷程項目（編號 {min(missing)}），或這項成果不由你認證。")
    return rows


@bp.post("/bulk/confirm")
@login_required("staff")
def bulk_confirm():
    """Step 2 of a bulk certification: the chosen items, to confirm. Items that changed since
    the queue was loaded, or cannot be certified now, are set apart and left out."""
    chosen = _selection()
    if not chosen:
        flash("請先勾選要認證的項目。", "error")
        return redirect(_back())
    with school_uow() as (uow, actor):
        rows = _rows_or_404(uow, actor, chosen)
    ready = [r for r in rows if r.can_certify and r.version == chosen[r.item_id]]
    held = [r for r in rows if r not in ready]
    return _render("teacher/bulk_confirm.html", ready=ready, held=held, back=_back())


@bp.post("/bulk/certify")
@login_required("staff")
def bulk_certify():
    chosen = _selection()
    try:
        with school_uow() as (uow, actor):
            _rows_or_404(uow, actor, chosen)
            done = bulk.bulk_certify(uow, actor, list(chosen), expected_versions=chosen, now=now())
    except (NotFound, Forbidden):
        raise
    except DomainError as refused:
        flash(f"批次認證沒有完成，所有項目都未變更。{refused.message}", "error")
        return redirect(_back())
    flash(f"已認證通過 {len(done)} 件課程學習成果。認證期間截止前可以按「復原」撤銷。")
    return redirect(url_for(".bulk_result", item=done, back=_back()))


@bp.get("/bulk/result")
@login_required("staff")
def bulk_result():
    item_ids = integers(request.args.getlist("item"), field="item", label="項目編號", low=1)
    with school_uow() as (uow, actor):
        rows = queue_rows(uow, actor, item_ids, now=now())
    return _render("teacher/bulk_result.html", rows=rows, undoable=[r for r in rows if r.can_undo],
                   back=_back())


@bp.post("/bulk/undo")
@login_required("staff")
def bulk_undo():
    try:
        form = parse(UndoForm, request.form)
        item_ids, shown = form["item"], dict(form["shown"])
    except InvalidInput:
        raise InvalidInput("要復原的項目資料不正確，請重新載入頁面後再操作。", field="item") from None
    try:
        with school_uow() as (uow, actor):
            _rows_or_404(uow, actor, item_ids)
            done = bulk.undo_certification(uow, actor, item_ids, expected_versions=shown, now=now())
    except (NotFound, Forbidden):
        raise
    except DomainError as refused:
        flash(f"復原沒有完成，所有項目都未變更。{refused.message}", "error")
        return redirect(_back())
    flash(f"已復原 {len(done)} 件認證，這些項目回到待認證。")
    return redirect(_back())
