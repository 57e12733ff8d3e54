"""A test deployment that carries every dataset of a case, in the versions the ledger reads.

The test agreement of tests/conftest.py carries permintaan_klarifikasi 1.0 and
tanggapan_klarifikasi 1.0 and 2.0 only. This one rewrites its flows of those two and
adds lahp, monitoring_tindak_lanjut and penilaian_tindak_lanjut, with the versions and
the personal data that config/agreements/ lets cross, and lets the test clients
submit and pull them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.node.config import load_agreement
from tests.conftest import Deployment

ROOT = Path(__file__).resolve().parent.parent
CASE_DATASETS = (
    "permintaan_klarifikasi",
    "tanggapan_klarifikasi",
    "lahp",
    "monitoring_tindak_lanjut",
    "penilaian_tindak_lanjut",
)
NEWEST = {
    "permintaan_klarifikasi": "2.0",
    "tanggapan_klarifikasi": "3.0",
    "lahp": "2.0",
    "monitoring_tindak_lanjut": "2.0",
    "penilaian_tindak_lanjut": "1.0",
}
# The client of each node that submits its datasets and pulls the other's.
SUBMITTER = {"ombudsman-ri": "simpel", "pemkot-bekasi": "sistem-pengaduan"}


def _flow_text(flow: Any, limits: dict[str, str]) -> str:
    personal = flow.personal_data
    return (
        "[[datasets]]\n"
        f'name = "{flow.name}"\nsender = "{flow.sender}"\nreceiver = "{flow.receiver}"\n'
        f"schema_versions = {json.dumps(list(flow.schema_versions))}\npurpose = 1\n"
        f"schedule = {{ interval_seconds = {limits['interval']} }}\n"
        f"max_records_per_batch = {limits['max_records']}\n"
        f"max_batch_bytes = {limits['max_batch_bytes']}\n"
        f"retention_days = {flow.retention_days or 90}\n"
        + (f"max_chunk_bytes = {limits['chunk']}\n" if limits.get("chunk") else "")
        + (
            f"personal_data = {{ fields = {json.dumps(sorted(personal.fields))}, purpose = 1, "
            f"legal_basis = {json.dumps(personal.legal_basis)} }}\n"
            if personal.fields
            else ""
        )
    )


def _without_flows(text: str, names: tuple[str, ...]) -> str:
    blocks = re.split(r"(?m)^(?=\[\[datasets\]\])", text)
    return "".join(b for b in blocks if not any(f'name = "{n}"' in b for n in names))


def case_deployment(factory: Callable[..., Deployment], **kwargs: Any) -> Deployment:
    """A deployment from ``factory`` (deployment_factory) with every case dataset."""
    deployment = factory(**kwargs)
    path = deployment.root / "agreement.toml"
    text = path.read_text()
    limits = {
        "interval": re.search(r"interval_seconds = (\d+)", text).group(1),  # type: ignore[union-attr]
        "max_records": re.search(r"max_records_per_batch = (\d+)", text).group(1),  # type: ignore[union-attr]
        "max_batch_bytes": re.search(r"max_batch_bytes = (\d+)", text).group(1),  # type: ignore[union-attr]
    }
    chunk = re.search(r"max_chunk_bytes = (\d+)", text)
    if chunk:
        limits["chunk"] = chunk.group(1)
    real = load_agreement(
        ROOT / "config" / "agreements" / "mou-pemkot-bekasi-ombudsman-ri-2021.toml"
    )
    flows = [f for f in real.flows if f.name in CASE_DATASETS]
    text = _without_flows(text, CASE_DATASETS) + "\n" + "\n".join(
        _flow_text(f, limits) for f in flows
    )
    path.write_text(text)
    for party in ("ombudsman-ri", "pemkot-bekasi"):
        sends = [f.name for f in flows if f.sender == party]
        gets = [f.name for f in flows if f.receiver == party]
        config = deployment.config_path(party)
        body = config.read_text()
        client = SUBMITTER[party]
        head, found, tail = body.partition(f'id = "{client}"\n')
        assert found, client
        submits = json.dumps([*sends, "kegiatan_pengembangan"])
        pulls = json.dumps([*gets, "kegiatan_pengembangan"])
        tail = re.sub(r"submit = \[.*?\]", f"submit = {submits}", tail, count=1)
        tail = re.sub(r"pull = \[.*?\]", f"pull = {pulls}", tail, count=1)
        config.write_text(head + found + tail)
    return deployment
