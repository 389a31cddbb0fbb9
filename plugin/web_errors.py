"""The one shape of every JSON error the app answers: ``{"error": {"code", "message", ...}}``."""

from __future__ import annotations

from flask import Response, jsonify


def json_error(status: int, code: str, message: str, *, response_headers: dict | None = None, **extra) -> Response:
    """``extra`` become fields of the error object; ``response_headers`` HTTP headers."""
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = status
    response.headers.update(response_headers or {})
    return response
