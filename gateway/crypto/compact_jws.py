"""Compact JWS (RFC 7515) as the gateway signs and verifies it: one profile, Ed25519.

A sealed envelope's inner JWS, a receipt and a signed node-to-node request are
each a compact JWS with ``alg`` ``Ed25519``, the signer's key thumbprint as
``kid`` and a ``typ`` of its own. Here are the steps they share: the registry
(the one algorithm, and a payload cap that fits what is signed), signing, and
verifying against a party's registered keys. Each caller says what a refusal
means to it (an envelope refused, a receipt not verified, a request rejected).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joserfc import jws
from joserfc.jwk import OKPKey

from gateway.crypto import strict_json
from gateway.errors import GatewayError

if TYPE_CHECKING:  # gateway.crypto.keys names its algorithm from here
    from gateway.crypto.keys import PeerKey

__all__ = ["SIG_ALG", "JWSRefused", "Verified", "protected_header", "registry", "sign", "verify"]

SIG_ALG = "Ed25519"  # RFC 9864 fully-specified algorithm name.


class JWSRefused(GatewayError):
    """A compact JWS that did not verify, and at which step.

    ``step``: ``malformed`` (not a compact JWS, or a header we refuse),
    ``unknown_key`` (no key the caller accepts has its ``kid``) or ``signature``.
    ``detail`` says what the library found, for the caller's own message.
    """

    code = "jws_refused"

    def __init__(self, step: str, detail: str, *, kid: Any = None) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail
        self.kid = kid


@dataclass(frozen=True)
class Verified:
    """A verified compact JWS: its ``kid``, the key that signed it, its header and payload."""

    kid: Any
    signer: PeerKey
    headers: dict[str, Any]
    payload: bytes


def registry(max_payload: int) -> jws.JWSRegistry:
    """The one algorithm, and a payload cap: joserfc's default of 128 kB is under a batch's."""
    found = jws.JWSRegistry(algorithms=[SIG_ALG])
    found.max_payload_length = max_payload
    return found


def protected_header(token: bytes) -> dict[str, Any]:
    """The protected header of a compact JWS or JWE, without decoding the rest.

    Read with :func:`strict_json.loads`: joserfc keeps the last of two members of one
    name, and RFC 7515/7516 section 5.2 let us refuse such a header, which we do.
    """
    # Sliced, not split: splitting would copy the rest of the token (a chunk's MiBs).
    end = token.find(b".")
    segment = token if end < 0 else token[:end]
    header = strict_json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
    if not isinstance(header, dict):
        raise ValueError("the protected header is not a JSON object")
    return header


def sign(payload: bytes | str, key: OKPKey, *, typ: str, max_payload: int) -> str:
    """``payload`` signed by ``key``, named by its thumbprint, as a compact JWS of ``typ``."""
    return jws.serialize_compact(
        {"alg": SIG_ALG, "kid": key.thumbprint(), "typ": typ},
        payload,
        key,
        registry=registry(max_payload),
    )


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def verify(
    token: bytes,
    key_for: Callable[[Any], PeerKey | None],
    *,
    max_payload: int,
    parse_first: bool = True,
) -> Verified:
    """Verify ``token`` with the key ``key_for`` gives for its ``kid``.

    The protected header is read strictly first (:func:`protected_header`). With
    ``parse_first`` the whole token is parsed too before the key is looked up, so
    that any malformation is ``malformed``; without it, a token whose header reads
    is verified, and what else is wrong with it is a ``signature`` refusal.
    ``key_for`` answers None for a ``kid`` the caller does not accept. Raises
    :class:`JWSRefused`.
    """
    limits = registry(max_payload)
    try:
        kid = protected_header(token).get("kid")
        if parse_first:
            kid = jws.extract_compact(token, registry=limits).headers().get("kid")
    except Exception as exc:  # any library error means the same thing to the caller
        raise JWSRefused("malformed", _why(exc)) from None
    if kid is not None and not isinstance(kid, str):
        # RFC 7515 section 4.1.4: a kid is a string. Another JSON value (a list, an
        # object) would not even be a key a caller's mapping could look up.
        raise JWSRefused("malformed", f"kid must be a string, got {type(kid).__name__}")
    signer = key_for(kid)
    if signer is None:
        raise JWSRefused("unknown_key", f"unknown key id {kid!r}", kid=kid)
    try:
        verified = jws.deserialize_compact(token, signer.key, registry=limits)
    except Exception as exc:
        raise JWSRefused("signature", _why(exc), kid=kid) from None
    return Verified(kid, signer, verified.headers(), verified.payload)
