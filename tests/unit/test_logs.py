"""The node's log format (gateway.ops.logs) and the gunicorn config's hooks around it."""

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from flask import Flask, g

from gateway.ops import gunicorn_config, logs


def handler_of(fmt, name="node", *, access_log=False):
    """The handler that logging_config describes, built without touching global logging."""
    config = logs.logging_config(fmt, access_log=access_log)
    configurator = logging.config.DictConfigurator(config)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(configurator.configure_formatter(config["formatters"]["node"]))
    for filter_name in config["handlers"][name]["filters"]:
        handler.addFilter(configurator.configure_filter(config["filters"][filter_name]))
    return handler, stream


def emit(handler, record):
    for f in handler.filters:
        f.filter(record)
    handler.emit(record)


def record(name="gateway.test", msg="hello %s", args=("wörld",), level=logging.INFO, **extra):
    made = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_json_line_has_the_common_fields_and_the_request_id_inside_a_request():
    handler, stream = handler_of("json")
    emit(handler, record())
    app = Flask("t")
    with app.test_request_context("/"):
        g.request_id = "req-1"
        emit(handler, record(route="/api/v1/schemas", status=200))
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert set(outside) == {"timestamp", "level", "logger", "process", "message"}
    assert (outside["level"], outside["logger"], outside["message"]) == (
        "INFO", "gateway.test", "hello wörld")
    assert outside["process"] == os.getpid() and outside["timestamp"].endswith("+00:00")
    assert inside["request_id"] == "req-1"
    assert (inside["route"], inside["status"]) == ("/api/v1/schemas", 200)
    assert "wörld" in stream.getvalue()  # written as it is, not as \u escapes


def test_an_exception_is_one_json_line():
    handler, stream = handler_of("json")
    try:
        raise ValueError("boom")
    except ValueError:
        emit(handler, logging.LogRecord("gateway.x", logging.ERROR, __file__, 1, "failed", (),
                                        sys.exc_info()))
    (line,) = stream.getvalue().splitlines()
    assert "ValueError: boom" in json.loads(line)["exc_info"]


def test_text_lines_carry_the_request_id_or_a_dash():
    handler, stream = handler_of("text")
    emit(handler, record())
    with Flask("t").test_request_context("/"):
        g.request_id = "req-2"
        emit(handler, record(msg="ALERT witness: %s", args=("x",), level=logging.CRITICAL))
    first, second = stream.getvalue().splitlines()
    assert first.endswith("INFO gateway.test [-] hello wörld")
    assert second.endswith("CRITICAL gateway.test [req-2] ALERT witness: x")


def test_gunicorn_access_lines_get_their_fields():
    from gunicorn.glogging import SafeAtoms

    handler, stream = handler_of("json", "access", access_log=True)
    atoms = SafeAtoms({"h": "127.0.0.1", "m": "GET", "U": "/api/v1/schemas", "s": "200",
                       "B": 512, "L": "0.001234", "r": "GET /api/v1/schemas?x=1 HTTP/1.1",
                       "H": "HTTP/1.1", "a": "curl/8", "q": "x=1", "{x-request-id}o": "abc"})
    emit(handler, record("gunicorn.access", gunicorn_config.access_log_format, (atoms,)))
    (line,) = (json.loads(x) for x in stream.getvalue().splitlines())
    assert line["logger"] == "gunicorn.access" and line["request_id"] == "abc"
    assert (line["method"], line["path"], line["status"], line["response_bytes"]) == (
        "GET", "/api/v1/schemas", 200, 512)
    assert line["duration_seconds"] == pytest.approx(0.001234)
    assert "user_agent" not in line and "q" not in line
    assert "x=1" not in line["message"]  # no query string, in the message either


def test_the_access_logger_writes_nothing_unless_asked():
    quiet = logs.logging_config("json")["loggers"]["gunicorn.access"]
    assert quiet["handlers"] == [] and quiet["level"] == "CRITICAL"
    loud = logs.logging_config("json", access_log=True)["loggers"]["gunicorn.access"]
    assert loud["handlers"] == ["access"] and loud["level"] == "INFO"


@pytest.mark.parametrize(("value", "expected"), [
    ("abc-123_X.y", "abc-123_X.y"), ("a" * 64, "a" * 64), ("a" * 65, None), ("", None),
    ("has space", None), ("new\nline", None), ("ünï", None), (None, None),
])
def test_only_short_plain_request_ids_are_taken(value, expected):
    assert logs.safe_request_id(value) == expected


def test_the_log_format_comes_from_the_environment():
    assert logs.log_format("json", {}) == "json"
    assert logs.log_format("json", {"GATEWAY_LOG_FORMAT": "TEXT"}) == "text"
    assert logs.log_format("text", {"GATEWAY_LOG_FORMAT": ""}) == "text"
    with pytest.raises(ValueError, match="GATEWAY_LOG_FORMAT must be json or text"):
        logs.log_format("json", {"GATEWAY_LOG_FORMAT": "xml"})


def test_the_gateway_command_refuses_an_unknown_log_format():
    done = subprocess.run([sys.executable, "-m", "gateway", "schemas", "sample", "lahp"],
                          env={**os.environ, "GATEWAY_LOG_FORMAT": "xml"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "GATEWAY_LOG_FORMAT must be json or text, got 'xml'" in done.stderr


def test_each_server_start_gets_a_fresh_metrics_directory(monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/somewhere/old")
    gunicorn_config.on_starting(None)
    first = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    gunicorn_config.on_exit(None)
    gunicorn_config.on_starting(None)
    second = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    try:
        assert first != second and os.path.isdir(second) and not os.path.exists(first)
        # Only the master's PID, by which a later start knows whether it was left behind.
        assert os.listdir(second) == ["master.pid"]
        pid_file = Path(second) / "master.pid"
        assert pid_file.read_text() == f"{os.getpid()}\n"
    finally:
        gunicorn_config.on_exit(None)
    assert not os.path.exists(second)


def test_the_metrics_directory_of_a_killed_server_is_removed_at_the_next_start(
        monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    left = tmp_path / "gateway-metrics-left"  # its master was killed: no on_exit
    left.mkdir()
    (left / "master.pid").write_text(child.stdout)
    live = tmp_path / "gateway-metrics-live"  # another node's server, still running
    live.mkdir()
    (live / "master.pid").write_text(f"{os.getpid()}\n")
    other = tmp_path / "gateway-metrics-unknown"  # no PID: not ours to judge
    other.mkdir()
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    gunicorn_config.on_starting(None)
    try:
        made = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        assert not left.exists() and live.exists() and other.exists()
        assert os.path.dirname(made) == str(tmp_path)
    finally:
        gunicorn_config.on_exit(None)


def test_gunicorn_builds_no_access_line_unless_the_access_log_is_on(monkeypatch):
    """gunicorn takes the access log as on whenever a logging configuration is given; the
    node's logger class builds the line only with GATEWAY_ACCESS_LOG=1."""
    from gunicorn.config import Config

    built = []
    monkeypatch.setattr(logs.GunicornLogger, "atoms", lambda self, *a: built.append(a) or {})
    cfg = Config()
    cfg.set("logconfig_dict", logs.logging_config("json", access_log=False))
    logger = logs.GunicornLogger(cfg)
    monkeypatch.delenv(logs.ACCESS_LOG_ENV, raising=False)
    logger.access(None, None, {}, None)
    assert built == []
    monkeypatch.setenv(logs.ACCESS_LOG_ENV, "1")
    logger.access(None, None, {}, None)
    assert len(built) == 1
