"""Detached compact JWS (RFC 7515 Appendix F): a signature kept apart from what it signs.

An agreement is signed by each of its parties over its RFC 8785 canonical form,
which every party can recompute from the agreement file; the signature file then
holds only ``<protected header>..<signature>`` (the payload part left empty). To
verify, the payload is put back and the JWS checked as any other compact JWS of
the gateway's one profile (:mod:`gateway.crypto.compact_jws`: ``alg`` Ed25519,
``kid`` the RFC 7638 thumbprint), with a ``typ`` of its own, so that a signature
made for one purpose never serves another.

Any JOSE library verifies one the same way: base64url-encode the canonical bytes,
put them between the two dots, verify with the signer's public key.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from joserfc.jwk import OKPKey

from gateway.crypto import compact_jws
from gateway.crypto.compact_jws import JWSRefused, Verified
from gateway.crypto.keys import PeerKey

__all__ = ["MAX_PAYLOAD", "attach", "sign", "verify"]

# Far above any agreement (tens of kilobytes), and a bound on what is read.
MAX_PAYLOAD = 4 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign(payload: bytes, key: OKPKey, *, typ: str) -> str:
    """A detached compact JWS of ``payload`` by ``key``: ``header..signature``."""
    token = compact_jws.sign(payload, key, typ=typ, max_payload=MAX_PAYLOAD)
    header, _, signature = token.split(".")
    return f"{header}..{signature}"


def attach(token: str, payload: bytes) -> bytes:
    """The detached ``token`` with ``payload`` put back: an ordinary compact JWS."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[1] != "":
        raise JWSRefused("malformed", "not a detached compact JWS (header..signature)")
    return f"{parts[0]}.{_b64(payload)}.{parts[2]}".encode("ascii")


def verify(
    token: str, payload: bytes, key_for: Callable[[Any], PeerKey | None], *, typ: str
) -> Verified:
    """Verify the detached ``token`` over ``payload``; raises :class:`JWSRefused`.

    ``key_for`` answers the key for a ``kid`` the caller accepts, else None. A
    token of another ``typ`` is refused as ``malformed``.
    """
    if len(payload) > MAX_PAYLOAD:
        raise JWSRefused("malformed", f"the signed content is over {MAX_PAYLOAD} bytes")
    try:
        attached = attach(token, payload)
    except UnicodeEncodeError:
        raise JWSRefused("malformed", "not ASCII") from None
    try:
        header = compact_jws.protected_header(attached)
    except Exception as exc:  # any decoding error means the same here
        raise JWSRefused("malformed", f"{type(exc).__name__}: {exc}") from None
    if header.get("typ") != typ:
        raise JWSRefused("malformed", f"typ must be {typ!r}, got {header.get('typ')!r}")
    return compact_jws.verify(attached, key_for, max_payload=MAX_PAYLOAD)
