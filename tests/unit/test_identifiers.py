"""Identifiers from outside are checked whole: a final newline is not part of any form.

Python's ``$`` matches before a string's last newline as well as at its end, so a
pattern such as ``^[0-9a-f]{8}-...$`` used with ``re.match`` accepts
``"<uuid>\\n"``; every check of an identifier uses ``fullmatch``.
"""

import datetime as dt

import pytest

from gateway.crypto.envelope import BATCH_ID, BatchHeader
from gateway.errors import NotFound

UUID = "7d1f3c9e-0000-4000-8000-000000000001"


@pytest.mark.parametrize("suffix", ["\n", "\r\n", " ", "\x00"])
def test_a_batch_id_with_anything_after_it_is_refused(suffix):
    assert BATCH_ID.fullmatch(UUID)
    with pytest.raises(ValueError, match="lower-case UUID"):
        BatchHeader(sender="ombudsman-ri", receiver="pemkot-bekasi",
                    dataset="permintaan_klarifikasi", schema_version="1.0",
                    batch_id=UUID + suffix, created_at=dt.datetime.now(dt.UTC))


def test_a_submission_id_with_a_final_newline_is_unknown(tmp_path):
    from gateway.exchange import intake

    class _Node:  # status() refuses a malformed id before it reads anything
        pass

    with pytest.raises(NotFound):
        intake.status(_Node(), None, UUID + "\n")  # type: ignore[arg-type]

