"""Signed agreements: each party's signature, and what a directory of them holds.

An agreement (format 2, docs/CONFIGURATION.md) names its parties by id; the
node's party registry (``parties/<id>.toml``) holds each party's endpoint and
keys, exchanged out of band. Each party signs the agreement's RFC 8785 canonical
form with its registered Ed25519 key, as a detached JWS kept beside the file
(``<stem>.<party>.jws``, :func:`gateway.node.config.signature_file`). A node takes
up an agreement only when every party it names has signed exactly this content
(:func:`gateway.node.config.read_signed_agreement`); here are signing, and the
account of a directory that ``gateway agreements verify | list | show`` print.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc.jwk import OKPKey

from gateway.crypto import detached_jws
from gateway.crypto.compact_jws import protected_header
from gateway.node.config import (
    AGREEMENT_TYP,
    Agreement,
    AgreementRefused,
    Party,
    agreement_data,
    canonical_form,
    parse_agreement,
    party_signing_keys,
    scan_agreements,
    signature_file,
)

__all__ = ["Finding", "describe", "examine", "sign"]


class SigningRefused(AgreementRefused):
    """An agreement this party cannot sign as asked (the CLI prints the reason)."""


def sign(file: Path, party_id: str, key: OKPKey, registry: Mapping[str, Party]) -> Path:
    """Sign ``file`` for ``party_id`` with ``key``; write and return the signature file.

    The agreement must read as a signed agreement naming ``party_id``, and ``key``
    must be one registered for that party: a signature nobody could verify is not
    made.
    """
    data = agreement_data(file)
    if data.get("format") != 2:
        raise SigningRefused(file, "only a format 2 agreement is signed")
    agreement = parse_agreement(file, data, registry=registry)
    if party_id not in agreement.parties:
        raise SigningRefused(
            file,
            f"{party_id!r} is not a party of agreement {agreement.id!r}",
            agreement_id=agreement.id,
        )
    if key.thumbprint() not in party_signing_keys(registry[party_id]):
        raise SigningRefused(
            file,
            f"the key {key.thumbprint()} is not registered for {party_id} in the party "
            "registry; register it (or sign with the registered key) first",
            agreement_id=agreement.id,
        )
    where = signature_file(file, party_id)
    token = detached_jws.sign(canonical_form(data), key, typ=AGREEMENT_TYP)
    temporary = where.with_name(f".{where.name}.tmp")
    temporary.write_text(token + "\n", encoding="ascii")
    temporary.replace(where)
    return where


@dataclass(frozen=True)
class Finding:
    """One file of an agreements directory, as a node would take it."""

    file: Path
    agreement: Agreement | None  # None: refused
    problem: str = ""
    # "in force", "ended", "not a party" (verified, but not this node's), "refused",
    # or "stray" (a signature file without its agreement).
    status: str = "refused"

    @property
    def ok(self) -> bool:
        return self.agreement is not None and self.status != "stray"


def examine(
    directory: Path,
    registry: Mapping[str, Party],
    *,
    party_id: str | None = None,
    today: dt.date,
) -> list[Finding]:
    """Every file of ``directory`` as a node of ``party_id`` would take it on ``today``.

    The same rules as the node's (:func:`gateway.node.config.scan_agreements`): a
    signature that does not verify, a lower version beside a higher one of the same
    id, a flow already agreed in another agreement in force. Without ``party_id``,
    every agreement counts as the node's. Any stray signature file is reported too.
    """
    scan = scan_agreements(directory, registry, party_id, today=today)
    findings = [
        Finding(a.source, a, status=_status(a, party_id, today))
        for a in (*scan.agreements, *scan.others)
    ]
    findings.extend(Finding(r.path_of_file, None, r.reason) for r in scan.refused)
    findings.sort(key=lambda f: f.file.name)
    stems = {f.stem for f in directory.glob("*.toml")}
    for sig in sorted(directory.glob("*.jws")):
        stem = sig.name[: -len(".jws")].rsplit(".", 1)[0]
        if stem not in stems:
            findings.append(
                Finding(sig, None, f"a signature without its agreement {stem}.toml", "stray")
            )
    return findings


def _status(agreement: Agreement, party_id: str | None, today: dt.date) -> str:
    if party_id is not None and party_id not in agreement.parties:
        return "not a party"
    if not agreement.in_force_on(today):
        return "ended"
    return "in force"


def describe(finding: Finding, registry: Mapping[str, Party]) -> dict[str, Any]:
    """A finding as JSON: the agreement's identity, parties, signatures and flows."""
    out: dict[str, Any] = {"file": finding.file.name, "status": finding.status}
    if finding.problem:
        out["problem"] = finding.problem
    a = finding.agreement
    if a is None:
        return out
    out.update(
        id=a.id,
        version=a.version,
        title=a.title,
        sha256=a.sha256,
        ends_on=a.ends_on.isoformat() if a.ends_on else None,
        parties=[{"id": p.id, "name": p.name} for p in a.parties.values()],
        signatures={pid: _signer(finding.file, pid) for pid in a.parties},
        flows=[
            {
                "dataset": d.name,
                "sender": d.sender,
                "receiver": d.receiver,
                "schema_versions": list(d.schema_versions),
                "schedule": d.schedule.describe(),
                "delivery": d.delivery,
                "retention_days": d.retention_days,
            }
            for d in a.flows
        ],
    )
    return out


def _signer(file: Path, party_id: str) -> dict[str, Any]:
    """The key id of a party's signature, and the SHA-256 of the signature file."""
    where = signature_file(file, party_id)
    token = where.read_bytes().strip()
    return {
        "file": where.name,
        "kid": protected_header(token).get("kid"),
        "sha256": hashlib.sha256(token).hexdigest(),
    }
