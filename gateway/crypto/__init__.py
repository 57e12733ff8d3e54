"""Cryptography and the formats it signs: pure functions over bytes and keys.

RFC 8785 canonical JSON (canonical), the one strict JSON reader (strict_json),
compact JWS as every signer here uses it (compact_jws), sealed batch envelopes
and signed receipts (envelope), the node's key material and key ring (keys,
keyring), the key passphrase (passphrase) and payloads encrypted at rest (atrest).

It may import: the top-level modules (gateway.errors, messages, ids,
timestamps), gateway.tlog for the Merkle leaf and note formats, and cryptography
libraries. It imports no web framework, database, HTTP client or scheduler
(import-linter's crypto-pure contract), so a counterparty's tools can use it alone.
"""

# joserfc's base64 by pybase64 wherever this package is imported (jose_base64).
from gateway.crypto import jose_base64 as _jose_base64  # noqa: F401
