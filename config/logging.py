"""Log context: a correlation id per admin request and per drain, on every line logged meanwhile.

`correlation()` sets the id for a block (the request middleware, a drain);
`CorrelationFilter` (attached to the handlers in settings.LOGGING) puts it on
each record as `correlation_id`, so the JSON formatter writes it as a field
and the plain format shows it in brackets.
"""

import contextvars
import logging
import re
import uuid
from contextlib import contextmanager

from django.core.signals import request_finished

_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "regsync_correlation_id", default="-"
)
# What a caller's X-Request-ID may be to be kept: short, and nothing a log reader could misread.
_SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
REQUEST_ID_HEADER = "X-Request-ID"


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def current() -> str:
    return _correlation_id.get()


@contextmanager
def correlation(correlation_id: str):
    """Every line logged inside the block (in this thread or task) carries this id."""
    token = _correlation_id.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _correlation_id.reset(token)


class CorrelationFilter(logging.Filter):
    """Adds `correlation_id` to a record that has none of its own (passed with `extra=`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = _correlation_id.get()
        return True


class CorrelationIdMiddleware:
    """One id per request: the caller's X-Request-ID when it is a plain token, else a new one.

    The response carries it back in X-Request-ID, so an operator can quote it.
    The id stays set until the request is finished (Django's request_finished
    signal), so that Django's own line about the response ("Not Found: ...",
    logged once the middleware returned) carries it too.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _SAFE_ID.fullmatch(given) else new_id("req")
        _correlation_id.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _request_finished(sender, **kwargs) -> None:
    _correlation_id.set("-")


request_finished.connect(_request_finished, dispatch_uid="regsync-correlation-id")


def logging_config(*, log_format: str, level: str) -> dict:
    """settings.LOGGING: JSON lines (production) or one plain line per record (`make run`)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"correlation": {"()": "config.logging.CorrelationFilter"}},
        "formatters": {
            "plain": {
                "format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"
            },
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                # Fields of every line; `extra=` fields (tenant, register, ...) follow.
                "fmt": ["asctime", "levelname", "name", "correlation_id", "message"],
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["correlation"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "INFO"}},
    }
