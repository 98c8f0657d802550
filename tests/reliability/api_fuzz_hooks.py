"""Schemathesis hooks for the API's file parts. The OpenAPI document says what each part holds
(a document is a PDF, JPEG or PNG, a media file an MP3 or MP4) and the server judges a file by
its content; JSON Schema cannot say what a PDF looks like, so
the fuzzer's bytes for a file part are swapped, just before sending, for a real file of that
part's kinds (chosen by the drawn bytes, so the cases still differ). Only files are swapped: a
negative case that sends a number or an object as the part keeps it. Used by the pytest
harness (tests/reliability/test_api_fuzz.py) and by the command line:

    SCHEMATHESIS_HOOKS=tests.reliability.api_fuzz_hooks schemathesis run URL --checks all …

(Not `encoding.contentType` with strategies registered per media type: schemathesis 4.32's
coverage phase then sends the required text fields empty as a valid case, and fails to serialise
a non-file value of such a part.)
"""
from __future__ import annotations

import zlib

import schemathesis
from schemathesis.transport.serialization import Binary

from tests import samples

FILES = {
    "document": [samples.pdf(), samples.pdf("另一份"), samples.png(), samples.png(3, 2), samples.jpeg()],
    "media": [samples.mp3(), samples.mp3(5), samples.mp4(), samples.mp4(256)],
}


@schemathesis.hook
def before_call(context, case, kwargs):
    body = case.body
    if not isinstance(body, dict):
        return
    for part, files in FILES.items():
        drawn = body.get(part)
        if isinstance(drawn, (Binary, bytes)):
            data = drawn.data if isinstance(drawn, Binary) else drawn
            body[part] = Binary(files[zlib.crc32(data) % len(files)])
