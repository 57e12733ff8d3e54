"""The gateway client's transport: bounded retries, Retry-After, errors, and what it sends.

Against a scripted transport (no node): each request gets the next scripted
answer or exception.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import subprocess
import sys
import time
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from gateway.client import (
    APIError,
    ConnectionFailed,
    GatewayClient,
    IdempotencyKeyReused,
    RateLimited,
    RetryPolicy,
    ServerError,
    ValidationFailed,
)
from gateway.client.api import check_idempotency_key, records_sha256, submission_body

TOKEN = "rahasia-token-sistem"


class Scripted(BaseAdapter):
    def __init__(self, script: list[Any]) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append(request)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        status, headers, body = step
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.url = request.url or ""
        response.request = request
        return response

    def close(self) -> None:
        pass


def client_with(script: list[Any], **kwargs: Any) -> tuple[GatewayClient, Scripted, list[float]]:
    adapter = Scripted(script)
    session = requests.Session()
    session.mount("http://node.test", adapter)
    waits: list[float] = []
    client = GatewayClient("http://node.test/", TOKEN, session=session, sleep=waits.append,
                           **kwargs)
    return client, adapter, waits


OK = (200, {"Content-Type": "application/json"}, {"status": "ok"})
SUBMITTED = {"submission_id": "01a2", "dataset": "d", "schema_version": "1.0",
             "record_count": 1, "records_sha256": "ab", "received_at": "2026-11-29T00:00:00Z"}


def test_connection_errors_are_retried_with_growing_waits():
    client, adapter, waits = client_with(
        [requests.ConnectionError("refused"), requests.ConnectTimeout("slow"), OK],
        retry=RetryPolicy(attempts=5, backoff=1.0, max_backoff=30.0))
    assert client.health() == {"status": "ok"}
    assert len(adapter.sent) == 3
    # Half the step, plus up to another half: 0.5-1 s, then 1-2 s.
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0


def test_retries_are_bounded():
    client, adapter, waits = client_with([requests.ConnectionError("refused")] * 3,
                                         retry=RetryPolicy(attempts=3))
    with pytest.raises(ConnectionFailed, match="no answer after 3 tries"):
        client.health()
    assert len(adapter.sent) == 3 and len(waits) == 2


def test_a_retry_after_is_waited_for_on_429_and_503():
    when = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30),
                                       usegmt=True)
    client, _, waits = client_with([
        (503, {"Retry-After": "7"}, b"busy"),
        (429, {"Retry-After": when}, {"error": {"code": "rate_limited", "message": "slow"}}),
        OK,
    ])
    assert client.health()["status"] == "ok"
    assert waits[0] == 7
    assert 25 <= waits[1] <= 30


def test_a_retry_after_too_long_is_not_waited_for():
    client, _, waits = client_with(
        [(429, {"Retry-After": "3600", "X-Request-Id": "r1"},
          {"error": {"code": "rate_limited", "message": "over the limit"}})],
        retry=RetryPolicy(max_retry_after=60))
    with pytest.raises(RateLimited) as raised:
        client.health()
    assert (raised.value.status, raised.value.code, raised.value.retry_after) == (
        429, "rate_limited", 3600)
    assert raised.value.request_id == "r1"
    assert waits == []


def test_other_errors_are_not_retried_and_carry_what_the_node_said():
    client, adapter, _ = client_with([
        (422, {}, {"error": {"code": "validation_failed", "message": "1 of 2 records ...",
                             "errors": [{"path": "/records/1/pelapor/nik", "code": "invalid_nik",
                                         "message": "bad"}]}}),
        (422, {}, {"error": {"code": "idempotency_key_reused", "message": "used",
                             "path": "Idempotency-Key"}}),
        (502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>"),
        (400, {}, {"error": {"code": "invalid_json", "message": "no", "path": ""}}),
    ])
    with pytest.raises(ValidationFailed) as invalid:
        client.submit("d", [{}, {}], schema_version="1.0")
    [error] = invalid.value.errors
    assert (error.record_index, error.field_path, error.code) == (1, "/pelapor/nik", "invalid_nik")
    with pytest.raises(IdempotencyKeyReused) as reused:
        client.submit("d", [{}], "k", schema_version="1.0")
    assert reused.value.path == "Idempotency-Key"
    assert str(reused.value) == "HTTP 422 idempotency_key_reused: used (at Idempotency-Key)"
    with pytest.raises(ServerError) as failed:
        client.health()
    assert failed.value.code == "http_502"
    with pytest.raises(APIError) as bad:
        client.health()
    assert (type(bad.value), bad.value.path) == (APIError, "")
    assert len(adapter.sent) == 4
    assert all(TOKEN not in str(e.value) for e in (invalid, reused, failed, bad))


def test_a_tls_failure_is_not_retried():
    client, adapter, _ = client_with([requests.exceptions.SSLError("certificate verify failed")])
    with pytest.raises(ConnectionFailed, match="TLS failed"):
        client.health()
    assert len(adapter.sent) == 1


def test_a_submission_carries_one_idempotency_key_through_its_retries():
    client, adapter, _ = client_with([
        requests.ReadTimeout("answer lost"),
        (503, {"Retry-After": "0"}, b""),
        (202, {"Idempotent-Replayed": "true"}, SUBMITTED),
    ])
    stored = client.submit("d", [{"a": "é"}], schema_version="1.0")
    assert stored.replayed and stored.submission_id == "01a2"
    keys = {r.headers["Idempotency-Key"] for r in adapter.sent}
    assert len(keys) == 1
    (key,) = keys
    assert key.startswith('"') and key.endswith('"')  # an RFC 8941 string
    assert {r.body for r in adapter.sent} == {submission_body("1.0", [b'{"a":"\xc3\xa9"}'])}
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in adapter.sent)
    assert adapter.sent[0].url == "http://node.test/api/v1/datasets/d/records"


def test_a_given_key_is_sent_as_a_structured_string():
    client, adapter, _ = client_with([(202, {}, SUBMITTED)])
    client.submit("d", [{}], 'kunci "1"\\', schema_version="1.0")
    assert adapter.sent[0].headers["Idempotency-Key"] == '"kunci \\"1\\"\\\\"'
    for bad in ("", "k" * 256, "kunci\u00e9", "a\nb"):
        with pytest.raises(ValueError):
            check_idempotency_key(bad)


def test_the_token_is_not_in_its_repr():
    client, _, _ = client_with([])
    assert TOKEN not in repr(client) and TOKEN not in str(vars(client).get("base_url"))


def test_records_digest_is_the_nodes():
    from gateway.crypto import canonical

    records = [{"b": 1, "a": "é", "c": [True, None, 2.5]}, {"z": "\u2028"}]
    expected = canonical.dumps(records)
    assert records_sha256(records) == hashlib.sha256(expected).hexdigest()


def test_the_client_package_imports_nothing_of_the_node():
    code = ("import sys, gateway.client, gateway.client.cli\n"
            "heavy = ('flask', 'sqlalchemy', 'marshmallow', 'schemas', 'joserfc', 'werkzeug')\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in heavy\n"
            "       or (m.startswith('gateway.') and not m.startswith('gateway.client'))]\n"
            "print(sorted(bad))\n")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
    assert time.monotonic() - started < 30


def test_an_answer_with_a_member_given_twice_is_not_read():
    from gateway.client.errors import ProtocolError

    # A lenient reader would see one status or the other.
    twice = (200, {"Content-Type": "application/json"}, b'{"status": "down", "status": "ok"}')
    client, _, _ = client_with([twice])
    with pytest.raises(ProtocolError, match="not JSON"):
        client.health()
    nested = (200, {"Content-Type": "application/json"},
              b'{"batches": [{"batch_id": "a", "\\u0062atch_id": "b"}], "next_after": null}')
    client, _, _ = client_with([nested])
    with pytest.raises(ProtocolError, match="not JSON"):
        client.list_batches("lahp")


def test_a_refusal_cut_at_its_first_errors_says_how_many_there_are():
    listed = [{"path": f"/records/{i}/status", "code": "one_of", "message": "m"}
              for i in range(100)]
    client, _, _ = client_with([
        (422, {}, {"error": {"code": "validation_failed", "message": "...", "errors": listed,
                             "error_count": 2315, "truncated": True}}),
        (422, {}, {"error": {"code": "validation_failed", "message": "...",
                             "errors": listed[:2], "error_count": True}}),
    ])
    with pytest.raises(ValidationFailed) as cut:
        client.submit("d", [{}], schema_version="1.0")
    assert (len(cut.value.errors), cut.value.error_count, cut.value.truncated) == (100, 2315, True)
    with pytest.raises(ValidationFailed) as odd:  # a count that is not a number is not taken
        client.submit("d", [{}], schema_version="1.0")
    assert (odd.value.error_count, odd.value.truncated) == (2, False)
