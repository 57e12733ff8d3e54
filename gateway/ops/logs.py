"""The node's log lines: one JSON object per line (or plain text), with the request id.

Every line the node writes, from its own loggers, from gunicorn's error log and, when
it is turned on (``GATEWAY_ACCESS_LOG=1``), from gunicorn's access log, goes to
standard error in one format, chosen by ``GATEWAY_LOG_FORMAT``:

``json`` (the default of ``gateway serve`` and of gunicorn under
``gateway.ops.gunicorn_config``)
    one JSON object per line, formatted by python-json-logger: ``timestamp``
    (ISO 8601, UTC), ``level``, ``logger``, ``process`` (the PID: which gunicorn
    worker, or the master, or the scheduler's process), ``message``, ``request_id`` when the
    line was written while the node answered a request, the exception as
    ``exc_info`` when there is one, and the fields a line adds itself (the
    request line's ``method``, ``route``, ``status``, ``duration_seconds``,
    ``client`` or ``peer``; the access log's fields, :class:`AccessLogFields`);
``text`` (the default of the other ``gateway`` commands)
    ``time level logger [request id] message``, for people at a terminal.

The configuration is one :func:`logging.config.dictConfig` dictionary
(:func:`logging_config`): gunicorn takes it as its ``logconfig_dict``, so that its
own lines are formatted the same way, and :func:`configure` applies it in the
``gateway`` command itself (the process of ``gateway serve`` that runs the
scheduler). Nothing here imports the app, Flask or prometheus_client: gunicorn's
master process loads this module before it forks the workers, and the scheduler's
process has no HTTP requests.
"""

from __future__ import annotations

import logging
import logging.config
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from gunicorn.glogging import Logger as _GunicornBaseLogger

__all__ = [
    "ACCESS_LOG_ENV",
    "LOG_FORMATS",
    "LOG_FORMAT_ENV",
    "REQUEST_LOGGER",
    "AccessLogFields",
    "GunicornLogger",
    "RequestIdFilter",
    "configure",
    "log_format",
    "logging_config",
    "safe_request_id",
]

LOG_FORMAT_ENV = "GATEWAY_LOG_FORMAT"
ACCESS_LOG_ENV = "GATEWAY_ACCESS_LOG"
LOG_FORMATS = ("json", "text")
# The logger of the one line written per request (gateway.http.api.observe).
REQUEST_LOGGER = "gateway.request"

# An X-Request-Id sent by a client is taken only if it is this short and plain: it is
# written into every log line of the request and returned in a header.
_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_JSON_FIELDS = "%(levelname)s %(name)s %(process)d %(message)s"
_RENAMED = {"levelname": "level", "name": "logger"}


def safe_request_id(value: str | None) -> str | None:
    """``value`` if it may serve as a request id (1 to 64 of ``A-Z a-z 0-9 . _ -``), else None."""
    if value is not None and _SAFE_REQUEST_ID.fullmatch(value):
        return value
    return None


def log_format(default: str = "json", environ: Mapping[str, str] | None = None) -> str:
    """The format that ``GATEWAY_LOG_FORMAT`` asks for, or ``default`` when it is unset.

    A value other than ``json`` or ``text`` is refused (ValueError), naming the variable.
    """
    env = os.environ if environ is None else environ
    value = env.get(LOG_FORMAT_ENV, "").strip().lower() or default
    if value not in LOG_FORMATS:
        raise ValueError(f"{LOG_FORMAT_ENV} must be json or text, got {value!r}")
    return value


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to a line written while a request is being answered.

    Set on the handlers, so that it sees the lines of every logger (filters on a
    logger see only that logger's own lines).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        # Without Flask imported there is no request (gunicorn's master, the scheduler).
        in_request = getattr(sys.modules.get("flask"), "has_request_context", None)
        if not hasattr(record, "request_id") and in_request is not None and in_request():
            request_id = sys.modules["flask"].g.get("request_id")
            if request_id:
                record.request_id = request_id
        return True


# gunicorn's access log atoms (gunicorn.glogging.Logger.atoms) lifted into fields of
# the JSON line, by the name each gets there.
_ACCESS_ATOMS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "s": "status",
    "B": "response_bytes",
    "L": "duration_seconds",
    "{x-request-id}o": "request_id",
}


class AccessLogFields(logging.Filter):
    """Lifts the fields of a gunicorn access log line out of its arguments.

    gunicorn logs each request as ``access_log_format % atoms``; the JSON line
    gets the atoms named in ``_ACCESS_ATOMS`` as fields of their own. The query
    string, the user agent and the referrer are left out.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if isinstance(atoms, Mapping):
            for atom, name in _ACCESS_ATOMS.items():
                value = atoms.get(atom)
                if value is None or value == "-":
                    continue
                text = str(value)
                if name in ("status", "response_bytes") and text.isdigit():
                    value = int(text)
                elif name == "duration_seconds":
                    value = float(text)
                setattr(record, name, value)
        return True


def _formatter(fmt: str) -> dict[str, Any]:
    if fmt == "json":
        return {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": _JSON_FIELDS,
            "rename_fields": dict(_RENAMED),
            "timestamp": True,
            # Names of people and places are written as they are, not as \u escapes.
            "json_ensure_ascii": False,
        }
    return {
        "()": "logging.Formatter",
        "fmt": _TEXT_FORMAT,
        "defaults": {"request_id": "-"},
    }


def logging_config(
    fmt: str = "json", *, access_log: bool = False, level: str = "INFO"
) -> dict[str, Any]:
    """The :func:`logging.config.dictConfig` dictionary of the node's logs.

    ``access_log``: write gunicorn's access log (one line per request, beside
    the node's own request line); without it the access logger writes nothing.
    """
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be json or text, got {fmt!r}")
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "node",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "access_fields": {"()": AccessLogFields},
        },
        "formatters": {"node": _formatter(fmt)},
        "handlers": {
            "node": handler,
            "access": {**handler, "filters": ["access_fields", "request_id"]},
        },
        "root": {"level": level, "handlers": ["node"]},
        "loggers": {
            # Replaces the handlers gunicorn gave these two loggers.
            "gunicorn.error": {"level": level, "handlers": ["node"], "propagate": False},
            "gunicorn.access": {
                "level": "INFO" if access_log else "CRITICAL",
                "handlers": ["access"] if access_log else [],
                "propagate": False,
            },
            "gateway": {"level": level},
        },
    }


def configure(default_format: str, environ: Mapping[str, str] | None = None) -> None:
    """Apply :func:`logging_config` to this process, in ``GATEWAY_LOG_FORMAT`` or
    ``default_format``.

    Like :func:`logging.basicConfig`, it does nothing when the root logger has
    handlers already (a test runner's, or an embedding program's).
    """
    if logging.getLogger().handlers:
        return
    env = os.environ if environ is None else environ
    logging.config.dictConfig(
        logging_config(log_format(default_format, env), access_log=env.get(ACCESS_LOG_ENV) == "1")
    )


class GunicornLogger(_GunicornBaseLogger):  # type: ignore[misc]
    """gunicorn's logger, building an access line only when the access log is on.

    gunicorn takes the access log as enabled whenever a logging configuration is given
    (the node gives one, :func:`logging_config`) and formats a line for every request
    that the configuration then drops: about 4 % of a worker's time under load
    (docs/PERFORMANCE.md). Here the line is built only with ``GATEWAY_ACCESS_LOG=1``.
    """

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        if os.environ.get(ACCESS_LOG_ENV) == "1":
            super().access(resp, req, environ, request_time)
