"""The JSON API, /api/v1: bearer tokens, marshmallow schemas, an OpenAPI 3 document built from
the same schemas (GET /api/v1/openapi.json). Views stay thin: parse, call a workflow, dump."""
from web.api.core import bp  # noqa: F401
from web.api import endpoints  # noqa: F401,E402  (registers the routes on bp)
from web.api import overview  # noqa: F401,E402
