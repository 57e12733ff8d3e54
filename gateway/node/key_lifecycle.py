"""Operators' key commands: ``gateway keys rotate|retire|revoke|list`` (gateway.crypto.keyring).

Each change is written to the key ring at once and audited (``key_rotated``,
``key_retired``, ``key_revoked``, with the key id and the operator as actor).
A running node takes it up when it restarts; it signs with a new key only
once the agreement pins the key for it, so rotation is done in this order:

1. ``gateway keys rotate --use sig`` (or ``enc``) on the node: a new key, the
   old one retiring after the agreement's ``[keys] grace_period_days``;
2. both parties add the new thumbprint to the node's ``key_pins`` in the
   agreement and restart: peers fetch the key from the node's JWKS, the node
   signs with it (or peers encrypt to it);
3. after the grace period, ``gateway keys retire KID`` destroys the old key.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization

from gateway.crypto.keyring import REVOCATION_REASONS, KeyEntry, Keyring
from gateway.crypto.keys import load_private
from gateway.crypto.passphrase import PASSPHRASE_ENV, passphrase_of
from gateway.errors import KeyMaterialError
from gateway.node.config import NodeConfig
from gateway.node.node import own_pins
from gateway.store import audit_entries
from gateway.store.database import Store
from gateway.timestamps import utc_now

__all__ = ["describe", "retire", "revoke", "rotate"]


def _ring(config: NodeConfig, environ: Mapping[str, str], now: dt.datetime) -> Keyring:
    passphrase = passphrase_of(environ)
    return Keyring.load(
        config.key_dir, load_private=lambda p: load_private(p, passphrase), now=now
    )


def _encryption(
    environ: Mapping[str, str], insecure: bool
) -> serialization.KeySerializationEncryption:
    passphrase = passphrase_of(environ)
    if passphrase is not None:
        return serialization.BestAvailableEncryption(passphrase)
    if not insecure:
        raise KeyMaterialError(
            f"set {PASSPHRASE_ENV} to encrypt the new private key "
            "(or pass --insecure-dev-keys for an unencrypted development key)"
        )
    return serialization.NoEncryption()


def _audit(
    config: NodeConfig, *, event: str, operator: str, at: dt.datetime, **fields: Any
) -> None:
    store = Store(config.database_url)
    try:
        store.create_schema()
        with store.write() as conn:
            audit_entries.append(conn, event=event, actor=operator, at=at, **fields)
    finally:
        store.dispose()


def rotate(
    config: NodeConfig,
    use: str,
    *,
    operator: str,
    environ: Mapping[str, str] | None = None,
    insecure: bool = False,
    now: dt.datetime | None = None,
) -> KeyEntry:
    """A new active key of ``use`` ("sig" or "enc"); the one it replaces retires later."""
    env = os.environ if environ is None else environ
    moment = now or utc_now()
    ring = _ring(config, env, moment)
    grace = dt.timedelta(days=config.agreement.keys.grace_period_days)
    entry = ring.rotate(use, now=moment, grace=grace, encryption=_encryption(env, insecure))
    ring.save()
    _audit(config, event="key_rotated", operator=operator, at=moment, kid=entry.kid, key_use=use)
    return entry


def retire(
    config: NodeConfig,
    kid: str,
    *,
    operator: str,
    force: bool = False,
    environ: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> KeyEntry:
    """End a key replaced by a rotation; before its grace period is over only with ``force``."""
    env = os.environ if environ is None else environ
    moment = now or utc_now()
    ring = _ring(config, env, moment)
    entry = ring.find(kid)
    if entry.status == "active":
        raise KeyMaterialError(f"key {kid} is active; rotate it first ('gateway keys rotate')")
    if entry.status == "retiring" and entry.live(moment) and not force:
        raise KeyMaterialError(
            f"key {kid} is in its grace period until {entry.retires_at}: batches sealed "
            "to it or signed with it may still be on their way (--force retires it now)"
        )
    ended = ring.end(kid, status="retired", now=moment)
    ring.save()
    _audit(config, event="key_retired", operator=operator, at=moment, kid=kid, key_use=entry.use)
    return ended


def revoke(
    config: NodeConfig,
    kid: str,
    *,
    operator: str,
    reason: str,
    environ: Mapping[str, str] | None = None,
    insecure: bool = False,
    now: dt.datetime | None = None,
) -> tuple[KeyEntry, KeyEntry | None]:
    """End a key at once (a compromise); a revoked active key is replaced by a new one.

    Returns the revoked key and its replacement, if one was made: the node cannot
    sign (or be encrypted to) again until the agreement pins the replacement.
    """
    if reason not in REVOCATION_REASONS:
        raise KeyMaterialError(f"reason must be one of {', '.join(REVOCATION_REASONS)}")
    env = os.environ if environ is None else environ
    moment = now or utc_now()
    ring = _ring(config, env, moment)
    entry = ring.find(kid)
    replacement = None
    others = [e for e in ring.live(entry.use, moment) if e.kid != kid and e.status == "active"]
    if entry.status == "active" and not others:
        grace = dt.timedelta(days=config.agreement.keys.grace_period_days)
        replacement = ring.rotate(
            entry.use, now=moment, grace=grace, encryption=_encryption(env, insecure)
        )
    revoked = ring.end(kid, status="revoked", now=moment, reason=reason)
    ring.save()
    _audit(
        config,
        event="key_revoked",
        operator=operator,
        at=moment,
        kid=kid,
        key_use=entry.use,
        reason=reason,
    )
    if replacement is not None:
        _audit(
            config,
            event="key_rotated",
            operator=operator,
            at=moment,
            kid=replacement.kid,
            key_use=entry.use,
        )
    return revoked, replacement


def describe(
    config: NodeConfig, *, environ: Mapping[str, str] | None = None, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Every key of the ring with its state, and whether the agreement pins it."""
    env = os.environ if environ is None else environ
    moment = now or utc_now()
    ring = _ring(config, env, moment)
    pins = own_pins(config)
    current: dict[str, str | None] = {}
    for use in ("sig", "enc"):
        try:
            current[use] = ring.current(use, moment, pins).kid
        except KeyMaterialError:
            current[use] = None
    return [
        {
            "kid": e.kid,
            "use": e.use,
            "status": e.status if e.live(moment) or e.status != "retiring" else "expired",
            "created_at": e.created_at,
            "retires_at": e.retires_at,
            "ended_at": e.ended_at,
            "reason": e.reason,
            "pinned": e.kid in pins,
            "current": current[e.use] == e.kid,
        }
        for e in sorted(ring.entries, key=lambda e: (e.use, e.created_at))
    ]
