"""Signed node-to-node requests, modelled on DPoP (RFC 9449); docs/ENVELOPE.md section 9.5.

Every request of a node to a peer (batches, manifests and chunks it delivers,
checkpoints it asks the peer to witness and, in peer-pull mode, the batches
sealed for it in the peer's outbox) proves which party it is with a JWS
signed by its registered Ed25519 key, sent as
``Authorization: GatewaySignature <compact JWS>``:

* protected header ``{"alg": "Ed25519", "kid": <key thumbprint>, "typ": "gw-request+jws"}``;
* payload, the RFC 8785 canonical JSON of ``iss`` (the requesting party), ``aud``
  (the party asked), ``htm`` (the HTTP method), ``htu`` (the path and query string
  of the request, as the asked node serves it), ``iat`` (Unix seconds), ``jti`` (a
  random UUID) and ``body_sha256`` (lower-case hex SHA-256 of the body, of the empty
  string for a request without one).

:func:`authorization` makes the header. The asked node checks the header before
it reads the body (docs/ENVELOPE.md section 9.5.1): :func:`verify_header` runs
every check of the header that needs no database, since the signature covers the
``body_sha256`` claim and not the body itself; :func:`check_body` compares the body,
once read, with that claim; :func:`verify` does both. :func:`authenticate` checks
the header, takes the ``jti`` (the replay check: every ``jti`` is kept in
``request_nonces`` until its time window closes, in the database that the node's
replicas share), only then reads the body and checks its digest; it logs and
counts a refusal, whose reason the caller never sees. An unsigned, wrongly
signed, stale or replayed request is thus refused without its body being read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import OKPKey
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from gateway.crypto import canonical, compact_jws, strict_json
from gateway.crypto.compact_jws import SIG_ALG, JWSRefused
from gateway.crypto.envelope import BATCH_ID
from gateway.crypto.keys import PeerKeys
from gateway.errors import RequestRejected
from gateway.node import refusals
from gateway.node.config import Party
from gateway.node.node import Node
from gateway.peers import jwks
from gateway.store.database import Store
from gateway.store.tables import request_nonces
from gateway.timestamps import iso

__all__ = [
    "MAX_SKEW_SECONDS",
    "REQUEST_TYP",
    "SCHEME",
    "SignedRequest",
    "authenticate",
    "authorization",
    "check_body",
    "headers",
    "sign",
    "verify",
    "verify_header",
]

log = logging.getLogger(__name__)

SCHEME = "GatewaySignature"
REQUEST_TYP = "gw-request+jws"
# How far a request's iat may be from the asked node's clock, either way.
MAX_SKEW_SECONDS = 300
# A request JWS is a few hundred characters; anything much longer is not one.
_MAX_TOKEN_CHARS = 4096
_CLAIMS = ("iss", "aud", "htm", "htu", "jti", "body_sha256")
_MAX_IAT = 2**53 - 1
# Expired request ids are deleted at most this often (per process and database).
_PRUNE_SECONDS = 60.0


# What a refused token is called, by the step that refused it (gateway.crypto.compact_jws).
_REFUSED = {
    "malformed": "not a compact JWS: {detail}",
    "unknown_key": "signed with unknown key id {kid!r}",
    "signature": "signature by {kid} does not verify: {detail}",
}


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign(
    *,
    signing_key: OKPKey,
    issuer: str,
    audience: str,
    method: str,
    target: str,
    body: bytes,
    now: dt.datetime,
    jti: str | None = None,
) -> str:
    """The compact JWS that signs one request of ``issuer`` to ``audience``.

    ``target``: the path and query string, e.g. ``/exchange/v1/outbox?dataset=lahp``.
    """
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "htm": method.upper(),
        "htu": target,
        "iat": int(now.timestamp()),
        "jti": jti or str(uuid.uuid4()),
        "body_sha256": _digest(body),
    }
    return compact_jws.sign(
        canonical.dumps(claims), signing_key, typ=REQUEST_TYP, max_payload=_MAX_TOKEN_CHARS
    )


def authorization(**kwargs: Any) -> str:
    """The ``Authorization`` header value of a signed request; arguments as :func:`sign`."""
    return f"{SCHEME} {sign(**kwargs)}"


def headers(node: Node, party: Party, method: str, url: str, body: bytes) -> dict[str, str]:
    """The headers that sign a request of ``node`` to ``party`` at ``url``.

    ``url`` is under the party's ``base_url``; the signature names the rest of it
    (path and query string) as ``htu``.
    """
    if not url.startswith(party.base_url):
        raise ValueError(f"{url} is not under {party.id}'s base URL {party.base_url}")
    return {
        "Authorization": authorization(
            signing_key=node.keys.signing,
            issuer=node.party_id,
            audience=party.id,
            method=method,
            target=url[len(party.base_url) :],
            body=body,
            now=node.now(),
        )
    }


@dataclass(frozen=True)
class SignedRequest:
    """A request whose signature and claims verified."""

    party: str  # the requesting party, whose registered key signed
    kid: str
    jti: str
    iat: int
    # The signed digest of the body (lower-case hex SHA-256), for check_body().
    body_sha256: str = ""

    @property
    def expires_at(self) -> dt.datetime:
        """When its iat leaves the accepted window, and a replay no longer needs its jti."""
        return dt.datetime.fromtimestamp(self.iat + MAX_SKEW_SECONDS, dt.UTC)


def verify_header(
    header: str | None,
    *,
    peer_keys: PeerKeys,
    audience: str,
    method: str,
    target: str,
    now: dt.datetime,
) -> SignedRequest:
    """Every check of a signed request's header but the replay check, without its body.

    The signature covers the claims, ``body_sha256`` among them, so it verifies
    before the body is read; :func:`check_body` then compares the body with the
    claim. Raises :class:`RequestRejected`.
    """
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    if not scheme:
        raise RequestRejected("no Authorization header", reason="missing")
    if scheme.lower() != SCHEME.lower() or not token:
        raise RequestRejected(f"Authorization scheme {scheme[:32]!r}", reason="scheme")
    if len(token) > _MAX_TOKEN_CHARS or not token.isascii():
        raise RequestRejected(f"a token of {len(token)} characters", reason="malformed")
    try:
        verified = compact_jws.verify(
            token.encode("ascii"),
            lambda kid: peer_keys.signing_key(kid) if isinstance(kid, str) else None,
            max_payload=_MAX_TOKEN_CHARS,
        )
    except JWSRefused as refused:
        raise RequestRejected(
            _REFUSED[refused.step].format(detail=refused.detail, kid=refused.kid),
            reason=refused.step,
        ) from None
    party = verified.signer.party
    protected = verified.headers
    if protected.get("alg") != SIG_ALG or protected.get("typ") != REQUEST_TYP:
        raise RequestRejected(
            f"unexpected header alg {protected.get('alg')!r} typ {protected.get('typ')!r}",
            reason="header",
            party=party,
        )
    try:
        claims = strict_json.loads(verified.payload)
    except ValueError as exc:
        raise RequestRejected(
            f"payload is not JSON: {exc}", reason="malformed", party=party
        ) from None
    if not isinstance(claims, dict):
        raise RequestRejected("payload is not a JSON object", reason="malformed", party=party)
    for name in _CLAIMS:
        if not isinstance(claims.get(name), str):
            raise RequestRejected(
                f"claim {name} missing or not a string", reason="malformed", party=party
            )
    iat = claims.get("iat")
    # Bounded as every JSON implementation reads integers exactly (and a float can hold it).
    if type(iat) is not int or not 0 <= iat <= _MAX_IAT:
        raise RequestRejected(
            "claim iat missing or not an integer from 0 to 2**53 - 1",
            reason="malformed",
            party=party,
        )
    if not BATCH_ID.fullmatch(claims["jti"]):
        raise RequestRejected("claim jti is not a lower-case UUID", reason="malformed", party=party)
    expected = {
        "iss": (party, "wrong_issuer"),
        "aud": (audience, "wrong_audience"),
        "htm": (method.upper(), "wrong_method"),
        "htu": (target, "wrong_target"),
    }
    for name, (value, reason) in expected.items():
        if claims[name] != value:
            raise RequestRejected(
                f"claim {name} {claims[name][:200]!r}, expected {value!r}",
                reason=reason,
                party=party,
            )
    skew = now.timestamp() - iat
    if abs(skew) > MAX_SKEW_SECONDS:
        raise RequestRejected(
            f"iat {iat} is {skew:.0f} s from this node's clock (at most {MAX_SKEW_SECONDS})",
            reason="stale",
            party=party,
        )
    return SignedRequest(
        party=party,
        kid=str(verified.kid),
        jti=claims["jti"],
        iat=iat,
        body_sha256=claims["body_sha256"],
    )


def check_body(signed: SignedRequest, body: bytes) -> None:
    """Refuse a body whose digest is not the one signed (``body_mismatch``)."""
    digest = _digest(body)
    if digest != signed.body_sha256:
        raise RequestRejected(
            f"claim body_sha256 {signed.body_sha256[:200]!r}, expected {digest!r}",
            reason="body_mismatch",
            party=signed.party,
        )


def verify(
    header: str | None,
    *,
    peer_keys: PeerKeys,
    audience: str,
    method: str,
    target: str,
    body: bytes,
    now: dt.datetime,
) -> SignedRequest:
    """Every check of a signed request but the replay check; raises :class:`RequestRejected`.

    The header's checks first (:func:`verify_header`), then the body's digest.
    """
    signed = verify_header(
        header, peer_keys=peer_keys, audience=audience, method=method, target=target, now=now
    )
    check_body(signed, body)
    return signed


def authenticate(
    node: Node,
    header: str | None,
    *,
    method: str,
    target: str,
    body: bytes | Callable[[], bytes],
) -> SignedRequest:
    """Verify a signed request to this node, once: a replayed ``jti`` is refused.

    ``body``: the body, or a function that reads it, called only once the header
    has passed every check and its ``jti`` is taken (an exception it raises, such
    as a body over the limit, goes to the caller as it is). A request whose header
    passes but whose body does not match has spent its ``jti``: a sender signs
    every attempt afresh.

    A refusal is logged with its detail, counted by its reason code (and the
    peer, once its key verified the signature) into an aggregated audit entry
    (gateway.node.refusals), and raised as :class:`RequestRejected`, which the API
    answers with a generic 401.
    """

    def check() -> SignedRequest:
        return verify_header(
            header,
            peer_keys=node.peers,
            audience=node.party_id,
            method=method,
            target=target,
            now=node.now(),
        )

    try:
        try:
            signed = check()
        except RequestRejected as exc:
            # A peer's new key, pinned by the agreement, that was not fetched yet.
            if exc.reason != "unknown_key" or not jwks.learn(node):
                raise
            signed = check()
        _take_jti(node, signed)
        check_body(signed, body() if callable(body) else body)
    except RequestRejected as exc:
        log.warning(
            "signed request %s %r rejected (%s): %s", method, target[:200], exc.reason, exc.detail
        )
        # Counted, not audited one by one: until every check passed, including the
        # replay check, the caller is not authenticated, and anyone may send these.
        refusals.count(node, refusals.signed_kind(exc.reason), subject=exc.party)
        raise
    return signed


# When each store last deleted its expired request ids (time.monotonic()).
_pruned: weakref.WeakKeyDictionary[Store, float] = weakref.WeakKeyDictionary()
_pruned_lock = threading.Lock()


def _prune_due(store: Store) -> bool:
    with _pruned_lock:
        last = _pruned.get(store)
        if last is not None and time.monotonic() - last < _PRUNE_SECONDS:
            return False
        _pruned[store] = time.monotonic()
        return True


def _take_jti(node: Node, signed: SignedRequest) -> None:
    """Remember the request's id until its window closes; refuse an id already taken."""
    now = node.now()
    try:
        with node.store.write() as conn:
            if _prune_due(node.store):
                conn.execute(delete(request_nonces).where(request_nonces.c.expires_at < iso(now)))
            conn.execute(
                request_nonces.insert().values(jti=signed.jti, expires_at=iso(signed.expires_at))
            )
    except IntegrityError:
        raise RequestRejected(
            f"jti {signed.jti} of {signed.party} was used before",
            reason="replay",
            party=signed.party,
        ) from None
