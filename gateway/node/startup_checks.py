"""What a node in production mode refuses to start with.

A node config says ``mode = "development"`` to run with the published
development tokens, the demo's passphrase, unencrypted private keys or TLS
certificates of the development CA (``scripts/dev-ca``); any other node is in
production mode (the default) and refuses all of these, with every problem
named, before it opens its database.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509

from gateway.crypto import atrest
from gateway.crypto.keyring import KEYRING_FILE, Keyring
from gateway.crypto.keys import (
    ENCRYPTION_FILE,
    LOG_FILE,
    SIGNING_FILE,
    WITNESS_FILE,
)
from gateway.crypto.passphrase import PASSPHRASE_ENV
from gateway.errors import GatewayError
from gateway.node.config import NodeConfig

__all__ = [
    "DEVELOPMENT_MARKER",
    "MIN_PASSPHRASE_LENGTH",
    "ProductionRefused",
    "check",
    "is_development",
    "problems",
]

# Published in README.md and config/ for development and the demo.
PUBLISHED_TOKENS = (
    "dev-only-pemkot-sistem-pengaduan",
    "dev-only-ombudsman-simpel",
    "dev-only-pemkot-inspektorat",
    "dev-only-ombudsman-auditor",
)
PUBLISHED_PASSPHRASES = ("demo-only-passphrase-do-not-use-in-production",)
MIN_PASSPHRASE_LENGTH = 12

_PUBLISHED_DIGESTS = {hashlib.sha256(t.encode()).hexdigest(): t for t in PUBLISHED_TOKENS}


class ProductionRefused(GatewayError):
    code = "production_refused"


# The organizational unit of every certificate the development CA (gateway.ops.devca) makes.
DEVELOPMENT_MARKER = "DEVELOPMENT ONLY"


def is_development(path: Path) -> bool:
    """Whether a PEM file holds a certificate of, or issued by, a development CA."""
    try:
        certs = x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError):
        return False
    return any(
        DEVELOPMENT_MARKER in cert.subject.rfc4514_string()
        or DEVELOPMENT_MARKER in cert.issuer.rfc4514_string()
        for cert in certs
    )


def problems(config: NodeConfig, environ: Mapping[str, str] | None = None) -> list[str]:
    """Everything that a production node must not run with (empty: none)."""
    env = os.environ if environ is None else environ
    found = []
    for client in config.clients:
        if client.token_sha256 in _PUBLISHED_DIGESTS:
            found.append(f"client {client.id!r} has a published development token")
    passphrase = env.get(PASSPHRASE_ENV, "")
    if not passphrase:
        found.append(f"{PASSPHRASE_ENV} is not set: private keys must be encrypted")
    elif passphrase in PUBLISHED_PASSPHRASES:
        found.append(f"{PASSPHRASE_ENV} is a published demo passphrase")
    elif len(passphrase) < MIN_PASSPHRASE_LENGTH:
        found.append(f"{PASSPHRASE_ENV} is shorter than {MIN_PASSPHRASE_LENGTH} characters")
    for name in _private_key_files(config):
        path = config.key_dir / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # reported when the keys are loaded
        if b"ENCRYPTED PRIVATE KEY" not in data:
            found.append(f"{path} is not encrypted")
    if atrest.key_file_encrypted(config.key_dir / atrest.STORAGE_KEY_FILE) is False:
        found.append(f"{config.key_dir / atrest.STORAGE_KEY_FILE} is not encrypted")
    return found + _tls_problems(config)


def _tls_problems(config: NodeConfig) -> list[str]:
    """TLS files from a development CA (scripts/dev-ca), and TLS keys others may read."""
    found = []
    tls = config.tls
    for name in ("cert_file", "client_cert_file", "client_ca_file", "peer_ca_file"):
        path = getattr(tls, name)
        if path is not None and is_development(path):
            found.append(
                f"node.tls.{name} {path} holds a certificate of a development CA "
                f"({DEVELOPMENT_MARKER})"
            )
    for name in ("key_file", "client_key_file"):
        path = getattr(tls, name)
        try:
            shared = path is not None and path.stat().st_mode & 0o077
        except OSError:
            continue  # reported when it is used
        if shared:
            found.append(f"node.tls.{name} {path} may be read by other users (chmod 600)")
    return found


def _private_key_files(config: NodeConfig) -> list[str]:
    """Every private key file of the node: the key ring's live keys and the log's two."""
    if (config.key_dir / KEYRING_FILE).exists():
        try:
            ring = Keyring.load(config.key_dir)
        except GatewayError:
            ring = None  # reported when the keys are loaded
        if ring is not None:
            files = [e.file for e in ring.entries if e.file is not None]
            return [*files, LOG_FILE, WITNESS_FILE]
    return [SIGNING_FILE, ENCRYPTION_FILE, LOG_FILE, WITNESS_FILE]


def check(config: NodeConfig, environ: Mapping[str, str] | None = None) -> None:
    """Refuse, naming every problem, to run a production node with development secrets."""
    if config.mode != "production":
        return
    found = problems(config, environ)
    if found:
        raise ProductionRefused(
            "refusing to start in production mode: "
            + "; ".join(found)
            + ' (a node for development says mode = "development" in its config)'
        )
