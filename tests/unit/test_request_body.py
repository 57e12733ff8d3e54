"""Reading a request's body: once, in as few reads as its length allows, bounded."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from werkzeug.exceptions import ClientDisconnected

from gateway.errors import PayloadTooLarge
from gateway.http.request_helpers import read_bounded

MIB = 1024 * 1024


class CountedInput(io.BytesIO):
    """A WSGI input that counts the reads made of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0
        self.asked: list[int | None] = []

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        self.asked.append(size)
        return super().read(size)

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        self.reads += 1
        self.asked.append(None)
        return super().readinto(buffer)


class FailingInput(io.BytesIO):
    """A WSGI input whose connection fails after the first bytes."""

    def read(self, size: int | None = -1) -> bytes:
        raise ConnectionResetError("connection reset by peer")


def context(app: Flask, data: bytes, *, length: int | None = None):  # type: ignore[no-untyped-def]
    stream = CountedInput(data)
    headers = {"Content-Length": str(len(data) if length is None else length)}
    return stream, app.test_request_context(
        "/", method="POST", input_stream=stream, headers=headers
    )


def test_a_large_body_of_known_length_is_read_in_one_read_and_once_a_request() -> None:
    # Werkzeug's own reads ask 64 KiB at a time, and behind each gunicorn copied what it
    # had read ahead: a chunk of 2 MiB cost 32 reads and as many copies.
    data = bytes(range(256)) * (8 * 1024)  # 2 MiB
    stream, ctx = context(Flask(__name__), data)
    with ctx:
        first = read_bounded(4 * MIB)
        again = read_bounded(4 * MIB)
    assert first == data
    assert again is first  # kept for the view, not read (or copied) again
    assert stream.reads <= 2
    # Asked of the server's input for the whole length: not through Werkzeug's stream,
    # whose read of it copies the body into a zeroed buffer and out again.
    assert stream.asked[0] == len(data)


def test_a_connection_that_fails_while_the_body_is_read_is_a_client_disconnect() -> None:
    app = Flask(__name__)
    headers = {"Content-Length": "5000"}
    with app.test_request_context("/", method="POST", input_stream=FailingInput(b"z" * 5000),
                                  headers=headers), pytest.raises(ClientDisconnected):
        read_bounded(8192)


def test_a_body_over_the_limit_is_refused_unread_and_so_is_a_second_read_under_a_smaller_one(
) -> None:
    app = Flask(__name__)
    stream, ctx = context(app, b"x" * 5000)
    with ctx, pytest.raises(PayloadTooLarge):
        read_bounded(4096)
    assert stream.reads == 0
    stream, ctx = context(app, b"x" * 5000)
    with ctx:
        assert len(read_bounded(8192)) == 5000
        with pytest.raises(PayloadTooLarge):
            read_bounded(4096)


def test_a_body_that_ends_before_its_length_is_returned_as_far_as_it_came() -> None:
    _, ctx = context(Flask(__name__), b"y" * 1000, length=2000)
    with ctx:
        assert read_bounded(4096) == b"y" * 1000


def test_requests_under_one_app_context_each_read_their_own_body() -> None:
    app = Flask(__name__)
    with app.app_context():
        for data in (b"first body", b"second, longer body"):
            _, ctx = context(app, data)
            with ctx:
                assert read_bounded(4096) == data
