"""TLS for the calls a node makes to its peers: which CAs it trusts, which certificate it shows.

Every call to a peer (``transfer.http_post``, ``witness._http_post``,
``pull.http_request``, ``peer_jwks.http_get``) passes ``**outbound.tls_for(url)``
to ``requests``. Those functions keep their fixed signatures, because tests put
their own in their place, so the settings live in the process:
:meth:`gateway.node.node.Node.from_config` calls :func:`configure` with the node's
config, which registers its ``[node.tls]`` settings for the ``https`` origin of
each peer's ``base_url`` in the agreement.

* A peer's server certificate is always verified: against ``peer_ca_file``, or
  else the system's trust store (:func:`system_trust_store`). There is no way to
  turn verification off.
* The node's client certificate (``client_cert_file``, else ``cert_file``) is
  shown only to the peers of the agreement, and only over https.
* Any other URL is verified with the system's trust store, and no certificate is shown.

Keyed by origin, several nodes configured in one process (as in the tests) each
keep their own settings for their own peers.
"""

from __future__ import annotations

import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypedDict
from urllib.parse import urlsplit

from gateway.node.config import NodeConfig, TLSConfig

__all__ = ["PeerTLS", "RequestsTLS", "configure", "peer_tls", "system_trust_store", "tls_for"]


class RequestsTLS(TypedDict):
    """The keyword arguments of ``requests`` that carry the TLS settings."""

    verify: str | Literal[True]
    cert: tuple[str, str] | None


def system_trust_store() -> str | Literal[True]:
    """The operating system's CA certificates, as OpenSSL finds them.

    The file or directory OpenSSL was built to use, or the one named by
    ``$SSL_CERT_FILE`` or ``$SSL_CERT_DIR``; True (the bundle that ``requests``
    ships) only where the system has none.
    """
    paths = ssl.get_default_verify_paths()
    return paths.cafile or paths.capath or True


@dataclass(frozen=True)
class PeerTLS:
    """How to reach one peer over https: the CA bundle to trust and the certificate to show."""

    # None: the system's trust store. Never "no verification".
    ca_file: Path | None = None
    cert: tuple[Path, Path] | None = None

    @classmethod
    def from_config(cls, tls: TLSConfig) -> PeerTLS:
        return cls(ca_file=tls.peer_ca_file, cert=tls.client_cert)

    def options(self) -> RequestsTLS:
        return {
            "verify": str(self.ca_file) if self.ca_file is not None else system_trust_store(),
            "cert": (str(self.cert[0]), str(self.cert[1])) if self.cert is not None else None,
        }


_DEFAULT = PeerTLS()
_PORTS = {"http": 80, "https": 443}
_peers: dict[tuple[str, str, int], PeerTLS] = {}
_lock = threading.Lock()


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in _PORTS or not host:
        return None
    return scheme, host, port or _PORTS[scheme]


def configure(config: NodeConfig) -> None:
    """Use ``config``'s ``[node.tls]`` for every call to its peers' https base URLs."""
    tls = PeerTLS.from_config(config.tls)
    with _lock:
        for party in config.agreement.parties.values():
            origin = _origin(party.base_url)
            if party.id != config.party_id and origin is not None and origin[0] == "https":
                _peers[origin] = tls


def peer_tls(url: str) -> PeerTLS:
    """The TLS settings for a call to ``url``: its peer's, or the defaults."""
    origin = _origin(url)
    if origin is None:
        return _DEFAULT
    with _lock:
        return _peers.get(origin, _DEFAULT)


def tls_for(url: str) -> RequestsTLS:
    """``verify`` and ``cert`` for a ``requests`` call to ``url``."""
    return peer_tls(url).options()
