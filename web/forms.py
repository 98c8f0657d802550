"""Form input 表單輸入 of the pages, parsed with marshmallow: ids and versions as integers,
texts as typed (the workflows trim them and check their lengths), files as workflows Uploads.
Bad input becomes InvalidInput with words a person understands, naming the field."""
from __future__ import annotations

from typing import Mapping

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load
from werkzeug.datastructures import FileStorage

from web.params import YEAR_MAX, YEAR_MIN, Int

from workflows.core.errors import InvalidInput
from workflows.items.uploads import Upload


class Form(Schema):
    """A page's form: fields the form does not declare (the CSRF token, the buttons' names) are
    dropped, and a blank integer field (an empty <select> or number input) counts as not given,
    so its default applies or its "required" message names it, rather than "not a number"."""

    class Meta:
        unknown = EXCLUDE  # the CSRF token and the buttons' names

    @pre_load
    def _blank_is_missing(self, data, **kwargs):
        # An empty <select> or number field means "not given", not "not a number".
        return {key: value for key, value in data.items()
                if not (isinstance(value, str) and not value.strip()
                        and isinstance(self.fields.get(key), fields.Integer))}


def one_message(message: str) -> dict:
    """A field's error messages when one sentence says it all (a select's 請選擇…, a hidden field's
    reload): the same words whether the value is missing, empty or malformed."""
    return {"required": message, "invalid": message, "null": message}


class VersionForm(Form):
    """An action button's form: the version of the item the page showed (stale-page guard)."""

    version = Int(label="頁面上的版本", load_default=None, error_messages=one_message("頁面資料不完整，請重新載入頁面後再試。"))


class OutcomeUploadForm(Form):
    course_id = Int(label="課程", low=1, required=True, error_messages=one_message("請選擇課程。"))
    title = fields.String(load_default="")
    description = fields.String(load_default="")


class PerformanceUploadForm(Form):
    academic_year = Int(label="學年度", low=YEAR_MIN, high=YEAR_MAX, required=True,
                        error_messages=one_message("請選擇學年度。"))
    category = fields.String(required=True, error_messages=one_message("請選擇多元表現類別。"))
    title = fields.String(load_default="")
    description = fields.String(load_default="")
    external_link = fields.String(load_default="")


class EditForm(VersionForm):
    title = fields.String(load_default="")
    description = fields.String(load_default="")
    external_link = fields.String(load_default=None)
    remove_document = fields.Boolean(load_default=False)
    remove_media = fields.Boolean(load_default=False)


class ReceiptAnswerForm(VersionForm):
    """A receipt's answer (confirm, or dispute with a reason) and the receipt's version the page showed."""

    reason = fields.String(load_default="")


def parse(schema: type[Schema], form: Mapping) -> dict:
    """The form's values, or InvalidInput naming the first field in error. A List field takes
    every value of its name (checkboxes); any other field the first."""
    loader = schema()
    if hasattr(form, "getlist"):
        repeated = {field.data_key or name for name, field in loader.load_fields.items()
                    if isinstance(field, fields.List)}
        data = {key: form.getlist(key) if key in repeated else form.get(key) for key in form.keys()}
    else:
        data = dict(form)
    try:
        return loader.load(data)
    except ValidationError as error:
        field, messages = next(iter(error.normalized_messages().items()))
        while isinstance(messages, dict):  # a List's messages, by the index of the value in error
            messages = next(iter(messages.values()))
        raise InvalidInput(messages[0] if isinstance(messages, list) else str(messages), field=field) from None


def upload_of(file: FileStorage | None) -> Upload | None:
    """A chosen file as an Upload; an empty file input (nothing chosen) is None."""
    if file is None or not file.filename:
        return None
    return Upload(file.stream, file.filename)
