"""The key passphrase: the one secret an operator gives a node, in its environment.

It encrypts the node's private keys (PKCS#8, gateway.crypto.keys) and wraps its
storage key (PBES2, gateway.crypto.atrest).
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["PASSPHRASE_ENV", "passphrase_of"]

PASSPHRASE_ENV = "GATEWAY_KEY_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)


def passphrase_of(environ: Mapping[str, str]) -> bytes | None:
    """The passphrase ``environ`` gives, as bytes; None if it gives none."""
    value = environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None
