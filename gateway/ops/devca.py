"""A development certificate authority for trying mutual TLS on one machine.

``scripts/dev-ca`` makes, in one directory, a root CA whose name says
"DEVELOPMENT ONLY", a certificate for every party of an agreement (for its node
as a TLS server and as a TLS client of its peers) and, on request, client
certificates for internal systems. Production mode refuses a node whose TLS
files come from such a CA (:func:`is_development`, ``gateway.node.startup_checks``).

Every key is ECDSA P-256, written unencrypted (gunicorn and ``requests`` read
TLS keys without a passphrase) and readable by its owner only. Nothing that
exists is ever overwritten: a second run reuses the CA and makes only what is
missing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.errors import GatewayError
from gateway.node.config import Agreement
from gateway.node.startup_checks import DEVELOPMENT_MARKER, is_development

__all__ = [
    "CA_CERT",
    "CA_KEY",
    "CA_VALIDITY_DAYS",
    "LEAF_VALIDITY_DAYS",
    "DevCAError",
    "Issued",
    "client_files",
    "make_dev_ca",
    "party_files",
]

# In the subject of the CA and of everything it issues; production mode looks for it.
CA_VALIDITY_DAYS = 730
LEAF_VALIDITY_DAYS = 365
CA_CERT = "ca.pem"
CA_KEY = "ca-key.pem"

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
# Issued a little in the past, so that a clock a few minutes behind still accepts it.
_BACKDATE = dt.timedelta(minutes=5)


class DevCAError(GatewayError):
    """The directory or the request does not allow making the development CA."""

    code = "dev_ca_refused"
    internal = True


@dataclass(frozen=True)
class Issued:
    """One certificate and its key, made now (``made``) or found in place and kept."""

    what: str
    cert: Path
    key: Path
    made: bool


def party_files(out_dir: Path, party_id: str) -> tuple[Path, Path]:
    """The certificate and key file of a party's node in ``out_dir``."""
    return out_dir / f"{party_id}.pem", out_dir / f"{party_id}-key.pem"


def client_files(out_dir: Path, name: str) -> tuple[Path, Path]:
    """The certificate and key file of an internal system's client certificate."""
    return out_dir / f"client-{name}.pem", out_dir / f"client-{name}-key.pem"


def make_dev_ca(
    out_dir: Path,
    agreement: Agreement,
    *,
    clients: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> list[Issued]:
    """Make the CA, every party's certificate and the named clients' in ``out_dir``.

    A certificate whose two files exist is kept as it is; one with a single file
    of the two, or certificates without their CA, stop the run before anything
    is written (:class:`DevCAError`).
    """
    moment = now or dt.datetime.now(dt.UTC)
    for name in clients:
        if not _NAME.fullmatch(name):
            raise DevCAError(
                f"client name {name!r}: use lower-case letters, digits and '-' (2 to 63)"
            )
    wanted = [
        _Wanted(f"party {party.id}", party.id, *party_files(out_dir, party.id), party.base_url)
        for party in agreement.parties.values()
    ] + [
        _Wanted(f"client {name}", name, *client_files(out_dir, name))
        for name in dict.fromkeys(clients)
    ]
    ca_cert, ca_key = out_dir / CA_CERT, out_dir / CA_KEY
    paths = [p for w in wanted for p in (w.cert, w.key)]
    if len(set(paths)) != len(paths):
        raise DevCAError("a client name gives the same file name as a party's certificate")
    for w in [_Wanted("the CA", "", ca_cert, ca_key), *wanted]:
        if w.cert.exists() != w.key.exists():
            present, absent = (w.cert, w.key) if w.cert.exists() else (w.key, w.cert)
            raise DevCAError(
                f"{present} exists without {absent.name}: remove it to make {w.what} afresh"
            )
    has_ca = ca_cert.exists()
    if not has_ca and any(w.cert.exists() for w in wanted):
        raise DevCAError(
            f"{out_dir} holds certificates but no {CA_CERT}: remove them or use another directory"
        )

    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if has_ca:
        authority = x509.load_pem_x509_certificate(ca_cert.read_bytes())
        if not is_development(ca_cert):
            raise DevCAError(f"{ca_cert} is not a development CA; use another directory")
        loaded = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise DevCAError(f"{ca_key} is not an ECDSA key")
        authority_key = loaded
    else:
        authority_key = ec.generate_private_key(ec.SECP256R1())
        authority = _ca_certificate(authority_key, moment)
        _write(ca_key, _key_pem(authority_key), private=True)
        _write(ca_cert, authority.public_bytes(serialization.Encoding.PEM), private=False)
    issued = [Issued("development CA", ca_cert, ca_key, made=not has_ca)]
    for w in wanted:
        if w.cert.exists():
            issued.append(Issued(w.what, w.cert, w.key, made=False))
            continue
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf = _leaf_certificate(w, leaf_key, authority, authority_key, moment)
        _write(w.key, _key_pem(leaf_key), private=True)
        _write(w.cert, leaf.public_bytes(serialization.Encoding.PEM), private=False)
        issued.append(Issued(w.what, w.cert, w.key, made=True))
    return issued


@dataclass(frozen=True)
class _Wanted:
    """A certificate to make: a party's node (with its ``base_url``) or an internal system."""

    what: str
    common_name: str
    cert: Path
    key: Path
    base_url: str | None = None


def _party_names(base_url: str) -> list[x509.GeneralName]:
    """A node's subject alternative names: localhost, 127.0.0.1 and its base_url's host."""
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    host = urlsplit(base_url).hostname or ""
    try:
        extra: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        extra = x509.DNSName(host)
    if host and extra not in names:
        names.append(extra)
    return names


def _subject(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Gateway development CA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEVELOPMENT_MARKER),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    name = _subject(f"{DEVELOPMENT_MARKER} gateway root CA")
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=CA_VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _leaf_certificate(
    wanted: _Wanted,
    key: ec.EllipticCurvePrivateKey,
    authority: x509.Certificate,
    authority_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
) -> x509.Certificate:
    """A party's certificate (TLS server and client) or an internal system's (client only)."""
    public = key.public_key()
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    if wanted.base_url is not None:
        usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
    ski = authority.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    not_after = min(now + dt.timedelta(days=LEAF_VALIDITY_DAYS), authority.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_subject(wanted.common_name))
        .issuer_name(authority.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    )
    # A party's node is reached by its host names; a client is named by its id.
    names = (
        _party_names(wanted.base_url)
        if wanted.base_url is not None
        else [x509.DNSName(wanted.common_name)]
    )
    return (
        builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(authority_key, hashes.SHA256())
    )


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Create ``path`` (never replacing one), owner-only if ``private``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
