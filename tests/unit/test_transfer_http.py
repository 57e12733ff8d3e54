"""The sender's HTTP client: no redirects followed, no oversized answer read."""

import http.server
import json
import threading

import pytest

from gateway.exchange.sending import MAX_ANSWER_BYTES, http_post


class Peer(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/redirect":
            self.send_response(307)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/elsewhere":
            raise AssertionError("the redirect was followed")
        body = (b'{"receipt": "' + b"x" * MAX_ANSWER_BYTES + b'"}' if self.path == "/huge"
                else json.dumps({"receipt": "r", "path": self.path}).encode())
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def peer():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_answer_is_read_as_json(peer):
    assert http_post(f"{peer}/batches", b"envelope", 5, {}) == (200, {"receipt": "r",
                                                                 "path": "/batches"})


def test_a_redirect_is_not_followed(peer):
    assert http_post(f"{peer}/redirect", b"envelope", 5, {}) == (307, None)


def test_an_oversized_answer_is_no_answer(peer):
    assert http_post(f"{peer}/huge", b"envelope", 5, {}) == (200, None)
