"""joserfc's base64 through pybase64.

joserfc encodes and decodes every segment of a JWS or JWE with the standard library's
``base64`` module: its ``joserfc.util`` calls ``base64.b64decode(s, b"-_",
validate=True)`` and ``base64.urlsafe_b64encode(s)``, and nothing else of it. Those read
and write 0.2-0.4 GB/s; a chunk of a batch is about 1.8 MB of base64 twice over (the
JWE's ciphertext, and inside it the JWS's payload), so on the way through they were a
tenth of each node's CPU (docs/PERFORMANCE.md, "Fifth round").

pybase64 is a drop-in for those two functions: the same arguments, the same bytes out,
``binascii.Error`` for the same input, 20 to 25 times as fast. This module gives joserfc
a namespace of pybase64's two functions in place of the standard module, and nothing
else changes: joserfc's own checks before decoding (no ``+``, ``/`` or ``=``, a length
and a last character that only a canonical encoding has) still run, and the signatures,
keys and ciphers are joserfc's and cryptography's as before. It does so only while
``joserfc.util`` holds the standard module as it does today; a joserfc that reads
base64 another way is left as it is, and ``tests/unit/test_jose_base64.py`` says so.
"""

from __future__ import annotations

import base64
import types

import pybase64
from joserfc import util as _joserfc_util

__all__ = ["in_use", "use_pybase64"]

_PYBASE64 = types.SimpleNamespace(
    b64decode=pybase64.b64decode,
    urlsafe_b64encode=pybase64.urlsafe_b64encode,
)


def use_pybase64() -> bool:
    """Route joserfc's base64 through pybase64; whether it now is."""
    if getattr(_joserfc_util, "base64", None) is base64:
        setattr(_joserfc_util, "base64", _PYBASE64)  # noqa: B010 (typed as a module)
    return in_use()


def in_use() -> bool:
    """Whether joserfc's base64 goes through pybase64."""
    return getattr(_joserfc_util, "base64", None) is _PYBASE64


use_pybase64()
