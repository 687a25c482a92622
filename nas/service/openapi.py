"""What the service's OpenAPI schema says beyond the routes' own signatures: the error answers
each route really gives, and the media type of the server-sent event stream.

Every error of the API (``HTTPException``, the token and size checks of
:class:`nas.service.auth.Guard`, a bad option) is answered as ``{"detail": "one line"}``;
:class:`ErrorDetail` is that answer's schema. FastAPI documents only 200 (or the route's own
status) and 422 by itself, so a client generated from the schema, or a fuzzer checking the
server against it (schemathesis's conformance checks, tests/service/test_fuzz.py), would take
a documented 404 for a broken server.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import StreamingResponse
from pydantic import BaseModel

WHY = {
    400: "The request is refused, with the reason (a bad option, a path outside the data folder)",
    401: "Missing or wrong bearer token",
    404: "No such search",
    409: "The request conflicts with the search's state",
    413: "The request body is larger than the server's cap",
}


class ErrorDetail(BaseModel):
    """Every error answer of the API: one line that says what was wrong."""

    detail: str


def errors(*codes: int, inline: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a route that needs the token and answers ``codes`` besides.

    Args:
        inline: the schema written out as JSON content, for a route whose own media type is
            not JSON (FastAPI would document a ``model`` under the route's media type).
    """
    if not inline:
        return {c: {"model": ErrorDetail, "description": WHY[c]} for c in sorted({401, *codes})}
    content = {"application/json": {"schema": ErrorDetail.model_json_schema()}}
    return {c: {"description": WHY[c], "content": content} for c in sorted({401, *codes})}


class EventStream(StreamingResponse):
    """A stream of server-sent events (its media type documents the route in the schema)."""

    media_type = "text/event-stream"


# one event of the stream, as schemathesis and OpenAPI 3.2 (``itemSchema``) read one: its
# fields, the data a JSON object
EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["progress", "end"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"type": "object"},
        },
    },
}
EVENTS_DOC: dict[str, Any] = {
    "description": "Server-sent events: ``event: progress`` with the progress as JSON on every "
    "change, then ``event: end`` with the final state",
    "content": {"text/event-stream": {"schema": EVENT}},
}
