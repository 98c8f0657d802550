"""The JSON API, /api/v1: bearer tokens, marshmallow schemas, an OpenAPI 3 document built from
the same schemas (GET /api/v1/openapi.json). Views stay thin: parse, call a workflow, dump."""
from web.api import endpoints, overview
from web.api.core import bp

# The blueprint app.py registers, and the modules that put their routes on it.
__all__ = ["bp", "endpoints", "overview"]
