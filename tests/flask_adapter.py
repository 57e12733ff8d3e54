"""A requests transport adapter that hands requests to an in-process Flask app.

Mounted on a :class:`requests.Session`, it lets code written against HTTP (the
gateway client) talk to a node's app without a server, a port or a thread.
``fail``: a hook called with each request before it goes to the app; it may
raise (a connection error, say) or return a status with headers to answer
instead, to play a node that is down or busy. ``after``: a hook called with
each request and the app's answer; it may raise, to play an answer lost on the
way back (the app has done the work) or a client stopped right then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

Fault = Callable[[requests.PreparedRequest], "tuple[int, dict[str, str]] | None"]
After = Callable[[requests.PreparedRequest, requests.Response], None]


class FlaskAdapter(BaseAdapter):
    def __init__(
        self, app: Flask, *, fail: Fault | None = None, after: After | None = None
    ) -> None:
        super().__init__()
        self.client = app.test_client()
        self.fail = fail
        self.after = after
        self.requests: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        if self.fail is not None:
            answer = self.fail(request)
            if answer is not None:
                status, headers = answer
                return self._response(request, status, headers, b"")
        url = urlsplit(request.url or "")
        body = request.body
        if isinstance(body, str):
            body = body.encode()
        answer = self.client.open(
            url.path,
            method=request.method or "GET",
            query_string=url.query,
            data=body or b"",
            headers=dict(request.headers),
        )
        response = self._response(request, answer.status_code, dict(answer.headers), answer.data)
        if self.after is not None:
            self.after(request, response)
        return response

    @staticmethod
    def _response(
        request: requests.PreparedRequest, status: int, headers: dict[str, str], body: bytes
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers)
        response._content = body
        response.url = request.url or ""
        response.request = request
        response.reason = {200: "OK", 202: "Accepted"}.get(status, "")
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def session_for(
    app: Flask, *, fail: Fault | None = None, after: After | None = None
) -> tuple[requests.Session, FlaskAdapter]:
    """A session whose requests to ``http://node.test`` go to ``app``."""
    session = requests.Session()
    adapter = FlaskAdapter(app, fail=fail, after=after)
    session.mount("http://node.test", adapter)
    return session, adapter
