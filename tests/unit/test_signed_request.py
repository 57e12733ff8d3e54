"""Signed node-to-node requests: the checks that need no database."""

import base64
import datetime as dt
import hashlib
import json

import pytest
from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import OKPKey

from gateway.crypto import canonical
from gateway.crypto.keys import PeerKey, PeerKeys
from gateway.errors import RequestRejected
from gateway.peers import signed_requests

NOW = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
TARGET = "/exchange/v1/outbox?dataset=lahp&limit=100"
KEY = OKPKey.generate_key("Ed25519")
OTHER = OKPKey.generate_key("Ed25519")
PEERS = PeerKeys([
    PeerKey("ombudsman-ri", OKPKey.import_key(KEY.as_dict(private=False)), "sig"),
    PeerKey("kota-depok", OKPKey.import_key(OTHER.as_dict(private=False)), "sig"),
])


def sign(**overrides):
    args = {"signing_key": KEY, "issuer": "ombudsman-ri", "audience": "pemkot-bekasi",
            "method": "GET", "target": TARGET, "body": b"", "now": NOW}
    return signed_requests.sign(**{**args, **overrides})


def verify(header, **overrides):
    args = {"peer_keys": PEERS, "audience": "pemkot-bekasi", "method": "GET",
            "target": TARGET, "body": b"", "now": NOW}
    return signed_requests.verify(header, **{**args, **overrides})


def reason(header, **overrides):
    with pytest.raises(RequestRejected) as info:
        verify(header, **overrides)
    assert info.value.message == "request signature rejected"
    return info.value.reason


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_signed_request_verifies_and_names_its_party():
    token = sign(jti="0b7a3c2e-5d1f-4e8a-9b6c-7d8e9f0a1b2c")
    found = verify(f"GatewaySignature {token}")
    assert (found.party, found.kid, found.iat) == ("ombudsman-ri", KEY.thumbprint(),
                                                   int(NOW.timestamp()))
    assert found.expires_at == NOW + dt.timedelta(seconds=300)
    header, payload, _ = token.split(".")
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {
        "alg": "Ed25519", "kid": KEY.thumbprint(), "typ": "gw-request+jws"}
    # The payload is the RFC 8785 canonical JSON of exactly these claims.
    claims = {"iss": "ombudsman-ri", "aud": "pemkot-bekasi", "htm": "GET", "htu": TARGET,
              "iat": int(NOW.timestamp()), "jti": "0b7a3c2e-5d1f-4e8a-9b6c-7d8e9f0a1b2c",
              "body_sha256": hashlib.sha256(b"").hexdigest()}
    assert base64.urlsafe_b64decode(payload + "==") == canonical.dumps(claims)
    # The scheme is case-insensitive (RFC 9110), a fresh jti each time by default.
    assert verify(f"gatewaysignature {sign()}").jti != verify(f"GatewaySignature {sign()}").jti


def test_a_body_is_bound_by_its_digest():
    body = b'{"receipt":"a.b.c"}'
    header = f"GatewaySignature {sign(method='POST', body=body)}"
    assert verify(header, method="POST", body=body).party == "ombudsman-ri"
    assert reason(header, method="POST", body=body + b" ") == "body_mismatch"


@pytest.mark.parametrize(("header", "expected"), [
    (None, "missing"),
    ("", "missing"),
    ("Bearer abc", "scheme"),
    ("GatewaySignature", "scheme"),
    ("GatewaySignature not-a-jws", "malformed"),
    ("GatewaySignature " + "a" * 5000, "malformed"),
])
def test_what_is_not_a_signed_request(header, expected):
    assert reason(header) == expected


def test_keys_and_signatures():
    stranger = OKPKey.generate_key("Ed25519")
    assert reason(f"GatewaySignature {sign(signing_key=stranger)}") == "unknown_key"
    # Another party's registered key, claiming to be the Ombudsman.
    assert reason(f"GatewaySignature {sign(signing_key=OTHER)}") == "wrong_issuer"
    # The Ombudsman's kid over a stranger's signature.
    _, payload, signature = sign(signing_key=stranger).split(".")
    forged = b64(json.dumps({"alg": "Ed25519", "kid": KEY.thumbprint(),
                             "typ": "gw-request+jws"}).encode())
    assert reason(f"GatewaySignature {forged}.{payload}.{signature}") == "signature"


def test_only_ed25519_and_the_request_typ_are_accepted():
    claims = json.loads(base64.urlsafe_b64decode(sign().split(".")[1] + "=="))
    with pytest.warns(SecurityWarning):  # joserfc's own view of the polymorphic name
        eddsa = jws.serialize_compact(
            {"alg": "EdDSA", "kid": KEY.thumbprint(), "typ": "gw-request+jws"},
            canonical.dumps(claims), KEY, registry=jws.JWSRegistry(algorithms=["EdDSA"]))
    assert reason(f"GatewaySignature {eddsa}") == "signature"
    receipt_typ = jws.serialize_compact(
        {"alg": "Ed25519", "kid": KEY.thumbprint(), "typ": "gw-receipt+jws"},
        canonical.dumps(claims), KEY, registry=jws.JWSRegistry(algorithms=["Ed25519"]))
    assert reason(f"GatewaySignature {receipt_typ}") == "header"


@pytest.mark.parametrize(("change", "expected"), [
    ({"iat": True}, "malformed"),
    ({"iat": "1764471600"}, "malformed"),
    ({"iat": 10**400}, "malformed"),
    ({"iat": -1}, "malformed"),
    ({"jti": "not-a-uuid"}, "malformed"),
    ({"htu": None}, "malformed"),
    ({"aud": "kota-depok"}, "wrong_audience"),
    ({"htm": "POST"}, "wrong_method"),
    ({"htm": "get"}, "wrong_method"),
    ({"htu": "/exchange/v1/outbox?dataset=lahp"}, "wrong_target"),
    ({"iat": int(NOW.timestamp()) - 301}, "stale"),
    ({"iat": int(NOW.timestamp()) + 301}, "stale"),
])
def test_claims(change, expected):
    claims = json.loads(base64.urlsafe_b64decode(sign().split(".")[1] + "=="))
    claims.update(change)
    claims = {k: v for k, v in claims.items() if v is not None}
    token = jws.serialize_compact(
        {"alg": "Ed25519", "kid": KEY.thumbprint(), "typ": "gw-request+jws"},
        json.dumps(claims).encode(), KEY, registry=jws.JWSRegistry(algorithms=["Ed25519"]))
    assert reason(f"GatewaySignature {token}") == expected


def test_the_window_is_five_minutes_either_way():
    for seconds in (-300, 300):
        when = NOW + dt.timedelta(seconds=seconds)
        assert verify(f"GatewaySignature {sign(now=when)}").party == "ombudsman-ri"


def _resigned(payload: bytes, header: str | None = None) -> str:
    """A request signed by KEY over ``payload`` as given, its protected header ``header``."""
    from joserfc._rfc7515 import compact

    with pytest.MonkeyPatch.context() as patch:
        if header is not None:
            patch.setattr(compact, "json_b64encode",
                          lambda _: base64.urlsafe_b64encode(header.encode()).rstrip(b"="))
        return jws.serialize_compact({"alg": "Ed25519", "kid": KEY.thumbprint(),
                                      "typ": "gw-request+jws"}, payload, KEY,
                                     registry=jws.JWSRegistry(algorithms=["Ed25519"]))


@pytest.mark.parametrize("member", [
    b'"aud":"kota-depok"',  # a reader keeping the first sees another audience
    b'"\\u0061ud":"pemkot-bekasi"',  # the same name, escaped, even with the same value
    b'"jti":"0b7a3c2e-5d1f-4e8a-9b6c-7d8e9f0a1b2c"',
])
def test_claims_with_a_name_given_twice_are_refused(member):
    payload = base64.urlsafe_b64decode(sign().split(".")[1] + "==")
    assert verify(f"GatewaySignature {_resigned(payload)}").party == "ombudsman-ri"
    assert reason(f"GatewaySignature {_resigned(b'{' + member + b',' + payload[1:])}") == (
        "malformed")


def test_a_header_with_a_parameter_given_twice_is_refused():
    payload = base64.urlsafe_b64decode(sign().split(".")[1] + "==")
    kid = KEY.thumbprint()
    for header in (f'{{"alg":"Ed25519","kid":"{OTHER.thumbprint()}","kid":"{kid}",'
                   '"typ":"gw-request+jws"}',
                   f'{{"alg":"Ed25519","kid":"{kid}","typ":"gw-request+jws","typ":"JWT"}}'):
        assert reason(f"GatewaySignature {_resigned(payload, header)}") == "malformed"
