"""Errors as RFC 9457 problem details (application/problem+json):

    {"type": "https://…/api/v1/problems/not-found", "title": "Not found", "status": 404,
     "detail": "No school with that name here.", "instance": "/api/v1/schools/x/"}

A field's errors go in `errors` ({"field": ["message", …]}). Every operation's schema says so
(`add_problem_responses`, a drf-spectacular postprocessing hook).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_TYPE = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    429: "Too many requests",
}


def problem_response(*, status_code: int, detail: str, request=None, errors: dict | None = None, headers=None) -> Response:
    title = TITLES.get(status_code, "Error")
    body = {
        "type": f"/api/v1/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.path
    if errors:
        body["errors"] = errors
    response = Response(body, status=status_code, headers=headers, content_type=PROBLEM_TYPE)
    return response


def _errors(detail) -> dict:
    if isinstance(detail, dict):
        return {key: [str(item) for item in (value if isinstance(value, list) else [value])] for key, value in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {}


def problem_exception_handler(exc, context):
    """DRF's handler, answering every error as a problem document."""
    request = context.get("request")
    if isinstance(exc, DjangoValidationError):
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return problem_response(
            status_code=400, detail=" ".join(m for ms in messages.values() for m in ms), request=request, errors=messages
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(status_code=413, detail="What was sent is larger than the API takes.", request=request)
    if isinstance(exc, SuspiciousOperation):
        return problem_response(status_code=400, detail="The request could not be read.", request=request)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found, or not one this API key may see.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django's 500 handling, never internal detail in the answer
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    headers = {key: value for key, value in response.headers.items() if key in ("Retry-After", "WWW-Authenticate", "Allow")}
    if isinstance(detail, (dict, list)):
        errors = _errors(detail)
        text = "Some of what was sent is not valid: see errors."
    else:
        errors, text = None, str(detail)
    return problem_response(status_code=response.status_code, detail=text, request=request, errors=errors, headers=headers)


def not_found(request, *args, **kwargs):
    """Any other address under /api/v1/: a problem document, not the portal's HTML page."""
    body = {"type": "/api/v1/problems/not-found", "title": "Not found", "status": 404,
            "detail": "There is no such operation or record here.", "instance": request.path}
    return JsonResponse(body, status=404, content_type=PROBLEM_TYPE)


PROBLEM_SCHEMA = {
    "type": "object",
    "description": "An RFC 9457 problem details document.",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    },
    "required": ["type", "title", "status", "detail"],
}


def add_problem_responses(result, generator, request, public):
    """Every operation may answer with a problem document (4xx): say so in the schema."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    reference = {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code in ("400", "401", "403", "404", "405", "406", "413", "415", "429"):
                operation["responses"].setdefault(code, {"description": TITLES[int(code)], "content": reference})
    return result


__all__ = ["problem_exception_handler", "problem_response", "add_problem_responses", "status"]
