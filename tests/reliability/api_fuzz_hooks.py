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

import zlib

import schemathesis
from openapi_schema_validator import OAS30Validator
from schemathesis.core.failures import AcceptedNegativeData
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
    """Keep every failure but one kind: "schema-violating request accepted" for a multipart body
    that does not violate the document. Schemathesis 4.32 counts any bytes in a `format: binary`
    part as a format violation, so it calls some valid uploads and edits negative (their bodies
    carry a real file it reused); the body is checked here again against the document, its files
    as the strings JSON Schema sees, and a valid one was rightly accepted."""
    if not isinstance(failure, AcceptedNegativeData) or not isinstance(case.body, dict):
        return True
    operation = case.operation.schema.raw_schema["paths"][case.operation.path][case.method.lower()]
    form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
    if form is None:
        return True
    body = {name: "file" if isinstance(value, (Binary, bytes)) else value for name, value in case.body.items()}
    schema = {**form["schema"], "components": case.operation.schema.raw_schema.get("components", {})}
    return not OAS30Validator(schema).is_valid(body)
