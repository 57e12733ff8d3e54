"""Signed node-to-node requests at the exchange endpoints: each refusal is a bare 401, counted.

(Envelope tampering, the layer inside, is in test_api.py: altered header, altered
ciphertext, truncated, garbage, another node's envelope.)
"""

import base64
import datetime as dt
import hashlib
import io
import json
from collections import Counter

import pytest
from joserfc.jwk import OKPKey

from gateway.errors import EnvelopeRejected
from gateway.exchange import receiving
from gateway.node import key_lifecycle, refusals
from gateway.peers import jwks, signed_requests
from tests.conftest import PASSPHRASE
from tests.integration.test_api import counted, events, sealed_envelope

PATH = "/exchange/v1/batches"




REFUSED = {"error": {"code": "unauthorized", "message": "request signature rejected"}}


def send(app, body, header):
    return app.client.post(PATH, data=body, content_type="application/jose",
                           headers={"Authorization": header})


def signature(sender, *, key=None, audience="ombudsman-ri", body, now=None, jti=None,
              target=PATH):
    return signed_requests.authorization(
        signing_key=key or sender.node.keys.signing, issuer=sender.party, audience=audience,
        method="POST", target=target, body=body, now=now or dt.datetime.now(dt.UTC), jti=jti)


def refused_with(app, answer, reason, peer, *, earlier=()):
    """``earlier``: the (reason, peer) of refusals this test made before, counted too."""
    assert answer.status_code == 401 and answer.get_json() == REFUSED
    assert answer.headers["WWW-Authenticate"] == 'GatewaySignature realm="exchange"'
    # Not authenticated (even a request the peer signed, when stale, replayed or aimed
    # elsewhere): no entry of its own, a count in the next requests_refused entry.
    before = [e for e in events(app) if e["event"] != "requests_refused"]
    assert not any(e["event"] == "request_rejected" for e in before)
    expected = Counter((refusals.signed_kind(r), p) for r, p in [*earlier, (reason, peer)])
    assert counted(app) == expected


@pytest.mark.parametrize("case", ["replay", "stale", "future", "unknown_key", "wrong_receiver",
                                  "other_path", "unsigned", "bearer_token"])
def test_a_bad_request_signature_is_refused_and_audited(apps, pemkot, ombudsman, case):
    body = sealed_envelope(apps, pemkot).encode()
    now = dt.datetime.now(dt.UTC)
    if case == "replay":
        header = signature(pemkot, body=body)
        assert send(ombudsman, body, header).status_code == 200
        answer, reason = send(ombudsman, body, header), "replay"
    elif case in ("stale", "future"):
        # Well past the 300 s window: a loaded machine may take a second or more between
        # signing and the check, which would bring a signature 301 s ahead back inside it.
        skew = dt.timedelta(seconds=400)
        header = signature(pemkot, body=body, now=now - skew if case == "stale" else now + skew)
        answer, reason = send(ombudsman, body, header), "stale"
    elif case == "unknown_key":
        stranger = OKPKey.generate_key("Ed25519")
        answer, reason = send(ombudsman, body, signature(pemkot, key=stranger, body=body)), case
    elif case == "wrong_receiver":
        header = signature(pemkot, audience="kota-depok", body=body)
        answer, reason = send(ombudsman, body, header), "wrong_audience"
    elif case == "other_path":
        header = signature(pemkot, body=body, target="/exchange/v1/batches/x/manifest")
        answer, reason = send(ombudsman, body, header), "wrong_target"
    elif case == "unsigned":
        answer = ombudsman.client.post(PATH, data=body, content_type="application/jose")
        reason = "missing"
    else:
        answer, reason = send(ombudsman, body, ombudsman.auth()["Authorization"]), "scheme"
    peer = None if case in ("unknown_key", "unsigned", "bearer_token") else "pemkot-bekasi"
    refused_with(ombudsman, answer, reason, peer)
    assert [e["event"] for e in events(ombudsman)].count("batch_received") == (
        1 if case == "replay" else 0)


def test_a_served_key_the_agreement_does_not_pin_is_refused(apps, pemkot, ombudsman, deployment):
    new = key_lifecycle.rotate(deployment.config("pemkot-bekasi"), "sig", operator="budi",
                        environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE})
    served = pemkot.client.get("/exchange/v1/jwks")
    assert new.kid in {k["kid"] for k in served.get_json()["keys"]}
    # The Ombudsman's node has fetched Pemkot's JWKS, new key and all ...
    report = jwks.refresh(ombudsman.node,
                               get=lambda url, timeout: (served.status_code, served.data))
    assert report.updated == ["pemkot-bekasi"]
    from gateway.crypto.keys import NodeKeys

    rotated = NodeKeys.from_directory(deployment.config("pemkot-bekasi").key_dir,
                                      environ={"GATEWAY_KEY_PASSPHRASE": PASSPHRASE})
    assert rotated.signing_kid == new.kid
    body = sealed_envelope(apps, pemkot).encode()
    # ... but the agreement does not pin it: a request signed with it is refused.
    answer = send(ombudsman, body, signature(pemkot, key=rotated.signing, body=body))
    refused_with(ombudsman, answer, "unknown_key", None)


def test_a_party_delivers_only_what_it_signed(apps, pemkot, ombudsman):
    body = sealed_envelope(apps, pemkot).encode()
    # The node's own key is not a peer's key: refused before the envelope is looked at.
    own = signed_requests.authorization(
        signing_key=ombudsman.node.keys.signing, issuer="ombudsman-ri", audience="ombudsman-ri",
        method="POST", target=PATH, body=body, now=dt.datetime.now(dt.UTC))
    refused_with(ombudsman, send(ombudsman, body, own), "unknown_key", None)
    # With a third party (another local government) a request could verify as its own:
    # the envelope inside must then be that party's too.
    with pytest.raises(EnvelopeRejected):
        receiving.receive(ombudsman.node, body, requester="kota-depok")
    assert events(ombudsman)[-1]["reason"] == "wrong_requester"


class Unread(io.RawIOBase):
    """A request body of ``length`` zero bytes that counts the bytes read from it."""

    def __init__(self, length):
        self.length = length
        self.position = 0
        self.taken = 0

    def readable(self):
        return True

    def seekable(self):
        return True  # for the test client, which measures the stream

    def tell(self):
        return self.position

    def seek(self, offset, whence=0):
        self.position = {0: offset, 1: self.position + offset, 2: self.length + offset}[whence]
        return self.position

    def readinto(self, buffer):
        size = max(0, min(len(buffer), self.length - self.position))
        buffer[:size] = bytes(size)
        self.position += size
        self.taken += size
        return size


BIG = 16 * 1024 * 1024


def send_unread(app, header, *, length=BIG, path=PATH):
    stream = Unread(length)
    answer = app.client.post(path, input_stream=stream, content_type="application/jose",
                             headers={} if header is None else {"Authorization": header})
    return answer, stream.taken


@pytest.mark.parametrize("case", ["unsigned", "bearer_token", "malformed", "unknown_key",
                                  "forged", "wrong_receiver", "wrong_method", "other_path",
                                  "stale", "future", "replay"])
def test_a_request_whose_signature_fails_is_refused_before_its_body_is_read(
        apps, pemkot, ombudsman, case):
    """The header (key, signature, claims, time, replay) is checked before the body is read:
    a refusal reads none of it, whatever length the request says it has."""
    body = bytes(BIG)  # the body the stream would give, which a valid header would cover
    now = dt.datetime.now(dt.UTC)
    # Well over 300 s either way, however long the 16 MiB take to hash before the request.
    skew = dt.timedelta(seconds=400)
    headers = {
        "unsigned": (None, "missing", None),
        "bearer_token": (ombudsman.auth()["Authorization"], "scheme", None),
        "malformed": ("GatewaySignature a.b.c", "malformed", None),
        "unknown_key": (signature(pemkot, key=OKPKey.generate_key("Ed25519"), body=body),
                        "unknown_key", None),
        "wrong_receiver": (signature(pemkot, audience="kota-depok", body=body),
                           "wrong_audience", "pemkot-bekasi"),
        "other_path": (signature(pemkot, body=body, target=PATH + "/x/manifest"),
                       "wrong_target", "pemkot-bekasi"),
        "stale": (signature(pemkot, body=body, now=now - skew), "stale", "pemkot-bekasi"),
        "future": (signature(pemkot, body=body, now=now + skew), "stale", "pemkot-bekasi"),
    }
    if case == "forged":
        # A valid signature of another body, whose digest claim is changed: it no longer
        # verifies, and that is known without the body.
        token = signature(pemkot, body=b"other").split(" ", 1)[1]
        head, payload, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        claims["body_sha256"] = hashlib.sha256(body).hexdigest()
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        header, reason, peer = f"GatewaySignature {head}.{forged}.{sig}", "signature", None
    elif case == "wrong_method":
        header = signed_requests.authorization(
            signing_key=pemkot.node.keys.signing, issuer="pemkot-bekasi",
            audience="ombudsman-ri", method="PUT", target=PATH, body=body, now=now)
        reason, peer = "wrong_method", "pemkot-bekasi"
    elif case == "replay":
        # Its id spent by a first request (a small body, refused as no envelope).
        header = signature(pemkot, body=b"x")
        assert send(ombudsman, b"x", header).status_code == 400
        reason, peer = "replay", "pemkot-bekasi"
    else:
        header, reason, peer = headers[case]
    answer, taken = send_unread(ombudsman, header)
    refused_with(ombudsman, answer, reason, peer)
    assert taken == 0
    # Over the node's limit too: 401, not 413 (nothing is said to an unauthenticated caller).
    answer, taken = send_unread(ombudsman, header, length=10**9)
    assert (answer.status_code, taken) == (401, 0)


def test_the_body_is_read_and_checked_after_the_header_and_the_id_is_spent(
        apps, pemkot, ombudsman):
    body = sealed_envelope(apps, pemkot).encode()
    header = signature(pemkot, body=body)
    # A valid header over another body: read, refused for its digest, the id spent.
    refused_with(ombudsman, send(ombudsman, body + b"\n", header), "body_mismatch",
                 "pemkot-bekasi")
    refused_with(ombudsman, send(ombudsman, body, header), "replay", "pemkot-bekasi",
                 earlier=[("body_mismatch", "pemkot-bekasi")])
    # A fresh signature over the right body is taken.
    assert send(ombudsman, body, signature(pemkot, body=body)).status_code == 200
    # A peer's request over the limit: 413 once the header passed, the body unread.
    answer, taken = send_unread(ombudsman, signature(pemkot, body=body), length=10**9)
    assert (answer.status_code, taken) == (413, 0)
