"""What the case ledger keeps of a record: its ids, dates and unit codes, never more.

A record of a dataset the ledger reads gives one *fact*: a small dict with the
case number, the kind of event and the ids and dates that link it to the other
events of its case. Names, free text, evidence and identity numbers stay out:
the ledger holds no personal data. The records have passed the agreed schema
already (dates are ``YYYY-MM-DD`` strings, unit codes are in the register), so
this only picks fields; a value of an unexpected form is left out rather than
trusted.

The kinds of event:

- ``request``: a clarification request (permintaan_klarifikasi) with its round and
  the reported unit; it opens a ``klarifikasi`` step;
- ``answer``: Pemkot's answer (tanggapan_klarifikasi); it closes the oldest open
  round;
- ``lhp``: the examination report, with its corrective actions (id, unit,
  deadline); each action opens a ``tindakan_korektif`` step;
- ``followup``: a follow-up report (monitoring_tindak_lanjut) on a corrective
  action or a recommendation; it closes the action's step;
- ``verdict``: the Ombudsman's verdict on a follow-up report
  (penilaian_tindak_lanjut); "perlu_klarifikasi" opens a
  ``klarifikasi_tindak_lanjut`` step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import orjson

from schemas.registers import unit_codes

__all__ = ["LEDGER_DATASETS", "fact_of", "json_text"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_MAX_ID = 100  # the longest id kept (the schemas bound theirs below this)


def _text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    return value if isinstance(value, str) and 0 < len(value) <= _MAX_ID else None


def _date(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    return value if isinstance(value, str) and _DATE.match(value) else None


def _unit(record: Mapping[str, Any], name: str) -> str | None:
    """A unit code of the register; free text (1.0 records) is not kept."""
    value = record.get(name)
    return value if isinstance(value, str) and value in unit_codes() else None


def _compact(fact: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fact.items() if v is not None}


def _request(record: Mapping[str, Any]) -> dict[str, Any]:
    round_ = record.get("putaran_klarifikasi")
    return {
        "kind": "request",
        "round": round_ if type(round_) is int and 0 < round_ < 100 else None,
        "unit": _unit(record, "unit_terlapor"),
        "due": _date(record, "batas_waktu_tanggapan"),
    }


def _answer(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "answer",
        "unit": _unit(record, "unit_penanggung_jawab"),
        "status": _text(record, "status"),
    }


def _lhp(record: Mapping[str, Any]) -> dict[str, Any]:
    unit = _unit(record, "unit_terlapor")
    actions = []
    listed = record.get("tindakan_korektif")
    for position, action in enumerate(listed if isinstance(listed, list) else [], start=1):
        if not isinstance(action, Mapping):
            continue
        actions.append(
            _compact(
                {
                    # 1.0 names no id: the action's place in the list, as monitoring 1.0 does.
                    "id": _text(action, "id_tindakan") or str(position),
                    "unit": _unit(action, "unit_penanggung_jawab") or unit,
                    "due": _date(action, "batas_waktu"),
                }
            )
        )
    return {
        "kind": "lhp",
        "ref": _text(record, "nomor_lahp"),
        "conclusion": _text(record, "kesimpulan"),
        "unit": unit,
        "actions": actions,
    }


def _action_id(record: Mapping[str, Any]) -> str | None:
    found = _text(record, "id_tindakan")
    if found is not None:
        return found
    position = record.get("urutan_tindakan")  # 1.0: the action's place, from 0
    return str(position + 1) if type(position) is int and position >= 0 else None


def _followup(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "followup",
        "ref_kind": _text(record, "jenis_rujukan"),
        "ref": _text(record, "nomor_rujukan"),
        "action": _action_id(record),
        "unit": _unit(record, "unit_penanggung_jawab"),
        "received_on": _date(record, "tanggal_diterima"),
        "due": _date(record, "batas_waktu"),
        "status": _text(record, "status"),
    }


def _verdict(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "verdict",
        "ref_kind": _text(record, "jenis_rujukan"),
        "ref": _text(record, "nomor_rujukan"),
        "action": _action_id(record),
        "unit": _unit(record, "unit_penanggung_jawab"),
        "verdict": _text(record, "penilaian"),
        "due": _date(record, "batas_waktu_tanggapan"),
    }


_EXTRACTORS = {
    "permintaan_klarifikasi": _request,
    "tanggapan_klarifikasi": _answer,
    "lahp": _lhp,
    "monitoring_tindak_lanjut": _followup,
    "penilaian_tindak_lanjut": _verdict,
}

# The datasets whose records feed the ledger; the others cost it nothing.
LEDGER_DATASETS = frozenset(_EXTRACTORS)


def fact_of(dataset: str, record: Any) -> dict[str, Any] | None:
    """The ledger's fact of one valid record, with its ``case``; None when it gives none."""
    extract = _EXTRACTORS.get(dataset)
    if extract is None or not isinstance(record, Mapping):
        return None
    case = _text(record, "nomor_laporan")
    if case is None or len(case) > 64:
        return None
    return {"case": case, **_compact(extract(record))}


_SORTED = orjson.OPT_SORT_KEYS
_DEL = b"\x7f"


def _no_float(value: Any) -> bool:
    """Whether ``value`` is made of dicts, lists, strings, integers, booleans and None
    only: the values orjson writes as json does (it writes floats otherwise: 1e-05 as
    0.00001, NaN as null; and types json refuses)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is dict:
        return all(type(k) is str and _no_float(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_no_float(v) for v in value)
    return False


def json_text(value: Any, *, sort_keys: bool = False) -> str:
    """``json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)``: the ledger's
    stored JSON (facts, digests' input), whose bytes must not change between releases.

    For a value of strings, integers, booleans, None, lists and objects with string
    names (what facts and digests hold), orjson writes the same text when it is
    printable ASCII (json escapes the rest, and DEL, as ``\\uXXXX``; both escape the
    controls alike, and sort names by code point), at a fraction of the cost; anything
    else is written by json as before.
    """
    if _no_float(value):
        try:
            written = orjson.dumps(value, option=_SORTED if sort_keys else None)
        except orjson.JSONEncodeError:  # a lone surrogate, an integer beyond 64 bits
            written = _DEL
        if written.isascii() and _DEL not in written:
            return written.decode("ascii")
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys)
