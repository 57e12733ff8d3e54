"""One exception tree: every error the gateway defines derives from gateway.errors.GatewayError,
and the internal ones never reach an HTTP answer."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from flask import Flask

import gateway
from gateway.cli import main as cli_main
from gateway.errors import GatewayError
from gateway.http import error_responses
from gateway.ops.devca import DevCAError
from gateway.peers.witness import WitnessRefused
from gateway.tlog import merkle, note
from gateway.tlog.auditor import Problem, VerificationError

# Not walked: the client library is a separate package with its own errors; Alembic's
# environment and migrations run only under Alembic; importing gateway.__main__ runs the CLI.
SKIPPED = (
    "gateway.client",
    "gateway.store.migrations.versions",
    "gateway.store.migrations.env",
    "gateway.__main__",
)

INTERNAL = [
    merkle.ProofError("inclusion proof is shorter than the path to the root"),
    note.NoteError("line 1: note text does not end with a newline"),
    note.SignatureError("the note is signed by 0 known key(s), 1 required"),
    VerificationError(Problem("the checkpoint is malformed")),
    WitnessRefused("HTTP 409 without a valid size"),
    DevCAError("a client name gives the same file name as a party's certificate"),
]


def _modules() -> list[str]:
    return [
        info.name
        for info in pkgutil.walk_packages(gateway.__path__, "gateway.")
        if not any(info.name == s or info.name.startswith(s + ".") for s in SKIPPED)
    ]


def test_every_exception_class_of_the_gateway_is_a_gateway_error():
    modules = _modules()
    assert "gateway.tlog.note" in modules and "gateway.ops.devca" in modules
    outside = []
    for name in modules:
        for value in vars(importlib.import_module(name)).values():
            if not isinstance(value, type) or not issubclass(value, BaseException):
                continue
            if value.__module__ != name or issubclass(value, GatewayError):
                continue
            # Exempt: private control flow that never leaves its module
            # (gateway.store.groupcommit._Rollback rolls back a group's transaction).
            if value.__name__.startswith("_"):
                continue
            outside.append(f"{name}.{value.__name__}")
    assert outside == []


def test_the_parsers_errors_are_still_value_errors():
    # Callers catch them as ValueError (the note and proof texts come from peers and files).
    for cls in (merkle.ProofError, note.NoteError, note.SignatureError):
        assert issubclass(cls, GatewayError) and issubclass(cls, ValueError)


@pytest.mark.parametrize("error", INTERNAL, ids=lambda e: type(e).__name__)
def test_an_internal_error_escaping_a_request_is_answered_as_any_unexpected_one(error):
    assert error.internal and str(error) == error.message
    app = Flask(__name__)
    app.config["GATEWAY_MAX_BODY"] = 1024
    error_responses.init_app(app)

    @app.get("/internal")
    def internal() -> str:
        raise error

    @app.get("/unexpected")
    def unexpected() -> str:
        raise RuntimeError("not a gateway error")

    client = app.test_client()
    for path in ("/internal", "/unexpected"):
        answer = client.get(path)
        assert answer.status_code == 500
        body = answer.get_json()["error"]
        assert body["code"] == "internal_error"
        assert re.fullmatch("internal error; reference [0-9a-f]{32}", body["message"])
        assert set(body) == {"code", "message"}


def test_the_cli_reports_errors_and_leaves_internal_ones_their_traceback(monkeypatch, capsys):
    def fail_with(error: Exception) -> None:
        def run(**_: object) -> None:
            raise error

        monkeypatch.setattr(cli_main.cli, "main", run)

    fail_with(GatewayError("no such batch"))
    with pytest.raises(SystemExit) as exit_:
        cli_main.main()
    assert exit_.value.code == 1
    assert capsys.readouterr().err == "gateway: error: no such batch\n"
    for error in INTERNAL:
        fail_with(error)
        with pytest.raises(type(error)):
            cli_main.main()
