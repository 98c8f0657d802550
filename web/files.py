"""An item's stored file, shown inline to whoever may see the item (preview 預覽) and never to
anyone else. Served with the type the upload check detected, never one the uploader named."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort

from web.context import files, login_required, school_uow
from workflows.people.access import require_item

bp = Blueprint("files", __name__, url_prefix="/items")

MEDIA_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png",
               "mp3": "audio/mpeg", "mp4": "video/mp4"}


@bp.get("/<int:item_id>/files/<any(document, media):slot>")
@login_required()
def preview(item_id: int, slot: str):
    with school_uow() as (uow, actor):
        item = require_item(uow, actor, item_id)
        sha256, kind, name = (getattr(item, f"{slot}_sha256"), getattr(item, f"{slot}_kind"),
                              getattr(item, f"{slot}_name"))
    if sha256 is None:
        abort(404)
    stream = files().open(sha256)
    response = Response(chunks(stream), mimetype=MEDIA_TYPES.get(kind, "application/octet-stream"))
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(name or slot)}"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; frame-ancestors 'self'"
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def chunks(stream, size: int = 64 * 1024):
    """The stream's bytes in pieces for a streamed response, closing it at the end."""
    with stream:
        while chunk := stream.read(size):
            yield chunk
