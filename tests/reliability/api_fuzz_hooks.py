"""Schemathesis hooks for the API's file parts. The OpenAPI document says what each part holds
(a document is a PDF, JPEG or PNG, a media file an MP3 or MP4) and the server judges a file by
its content; JSON Schema cannot say what a PDF looks like, so
the fuzzer's bytes for a file part are swapped, just before sending, for a real file of that
part's kinds (chosen by the drawn bytes, so the cases still differ), in the valid (positive)
cases only. Used by the pytest
harness (tests/reliability/test_api_fuzz.py) and by the command line:

    SCHEMATHESIS_HOOKS=tests.reliability.api_fuzz_hooks schemathesis run URL --checks all …

(Not `encoding.contentType` with strategies registered per media type: schemathesis 4.32's
coverage phase then sends the required text fields empty as a valid case, and fails to serialise
a non-file value of such a part.)
"""
from __future__ import annotations

import json
import zlib

import schemathesis
from openapi_schema_validator import OAS30Validator
from schemathesis.core import NOT_SET
from schemathesis.core.failures import AcceptedNegativeData
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.core.parameters import ParameterLocation
from schemathesis.transport.serialization import Binary

from tests import samples

FILES = {
    "document": [samples.pdf(), samples.pdf("另一份"), samples.png(), samples.png(3, 2), samples.jpeg()],
    "media": [samples.mp3(), samples.mp3(5), samples.mp4(), samples.mp4(256)],
}


@schemathesis.hook
def before_call(context, case, kwargs):
    # In process (the pytest harness), schemathesis 4.32's stateful phase hands werkzeug's test
    # client a requests option it does not take; over HTTP the default is the same.
    if getattr(case.operation, "app", None) is not None:
        kwargs.pop("max_redirects", None)
    body = case.body
    # Only a valid case gets real files: schemathesis takes any bytes of a `format: binary` part
    # for a format violation in a negative case, which the server's content check refuses.
    if not isinstance(body, dict) or case.meta is None or not case.meta.generation.mode.is_positive:
        return
    swapped = dict(body)  # a new dict: schemathesis shares a body between cases it derives
    for part, files in FILES.items():
        drawn = body.get(part)
        if isinstance(drawn, (Binary, bytes)):
            data = drawn.data if isinstance(drawn, Binary) else drawn
            swapped[part] = Binary(files[zlib.crc32(data) % len(files)])
    case.body = swapped


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure except the two whose premise an independent OpenAPI validator
    (openapi-schema-validator) contradicts, file parts read as the strings JSON Schema sees:
    "schema-violating request accepted" when the body, the only part generated as invalid, is
    valid by the document (schemathesis 4.32 counts any bytes of a `format: binary` part as a
    format violation, so it labels some valid uploads and edits invalid), and "schema-valid
    request rejected" when a path parameter or the body is invalid by the document (its stateful
    phase took `dispute` from a response's available_events into the `event` of
    /receipts/{receipt_id}/events/{event}, whose enum leaves it out, and sent it without the
    reason that dispute's own path requires)."""
    if isinstance(failure, AcceptedNegativeData):
        meta = case.meta
        only_body = meta is not None and all(
            location == ParameterLocation.BODY or not meta.is_negative_at(location) for location in meta.components)
        return not (only_body and _body_valid(case) is True)
    if isinstance(failure, RejectedPositiveData):
        return _path_valid(case) and _body_valid(case, response) is not False
    return True


def _path_valid(case) -> bool:
    """Whether every path parameter is valid by the document (its enum, its range)."""
    operation = case.operation.schema.raw_schema["paths"][case.operation.path][case.method.lower()]
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path" and parameter["name"] in (case.path_parameters or {}):
            if not OAS30Validator(parameter["schema"]).is_valid(case.path_parameters[parameter["name"]]):
                return False
    return True


def _body_valid(case, response=None) -> bool | None:
    """Whether the body sent is valid by the document; None when the operation takes none."""
    raw = case.operation.schema.raw_schema
    content = raw["paths"][case.operation.path][case.method.lower()].get("requestBody", {}).get("content", {})
    media = "multipart/form-data" if "multipart/form-data" in content else "application/json"
    if media not in content:
        return None
    body = case.body
    sent = getattr(getattr(response, "request", None), "body", None)
    if media == "application/json" and sent is not None:
        try:
            body = json.loads(sent)  # what went over the wire (a stateful step may rebuild it)
        except ValueError:
            return None
    if isinstance(body, dict):
        body = {name: "file" if isinstance(value, (Binary, bytes)) else value for name, value in body.items()}
    elif body is NOT_SET or body is None:
        body = {}  # what the server reads an empty body as
    schema = {**content[media]["schema"], "components": raw.get("components", {})}
    return OAS30Validator(schema).is_valid(body)
