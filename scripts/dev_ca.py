"""Make a development CA and TLS certificates for trying mutual TLS on one machine.

In DIR (default ``dev-ca/`` at the project root, which git ignores):

* ``ca.pem`` and ``ca-key.pem``: a root CA named "DEVELOPMENT ONLY" (ECDSA P-256, two years);
* ``<party>.pem`` and ``<party>-key.pem`` for every party of the agreement: the
  certificate of its node as a TLS server and as a TLS client of its peers, for
  ``localhost``, ``127.0.0.1`` and the host of its ``base_url``;
* ``client-<name>.pem`` and ``client-<name>-key.pem`` for every ``--client NAME``:
  a client certificate for an internal system.

Private keys are readable by their owner only. Nothing that exists is
overwritten: a second run reuses the CA and makes only what is missing. A node
in production mode refuses these certificates. Relative paths are taken from the
project root.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gateway.errors import ConfigError
from gateway.node.config import load_agreement
from gateway.ops.devca import CA_CERT, DevCAError, make_dev_ca, party_files

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scripts/dev-ca",
        description="Make a development CA and TLS certificates (DEVELOPMENT ONLY).",
    )
    parser.add_argument("directory", nargs="?", default="dev-ca",
                        help="where to write the files (default: dev-ca)")
    parser.add_argument("--agreement",
                        default="config/agreements/mou-pemkot-bekasi-ombudsman-ri-2021.toml",
                        help="the agreement whose parties get certificates "
                             "(default: the shipped agreement in config/agreements/)")
    parser.add_argument("--client", action="append", default=[], metavar="NAME",
                        help="also a client certificate for internal system NAME (repeatable)")
    args = parser.parse_args(argv)
    out_dir = Path(args.directory).resolve()
    try:
        agreement = load_agreement(args.agreement)
        issued = make_dev_ca(out_dir, agreement, clients=args.client)
    except (ConfigError, DevCAError) as exc:
        print(f"dev-ca: error: {exc}", file=sys.stderr)
        return 1
    for item in issued:
        state = "made" if item.made else "kept (exists)"
        print(f"{state:14} {item.what}: {_shown(item.cert)}, key {_shown(item.key)}")
    # What each node config (beside the agreement) would say to use them.
    config_dir = agreement.source.parent
    ca = _from_config(out_dir / CA_CERT, config_dir)
    for party in agreement.parties.values():
        cert, key = (_from_config(p, config_dir) for p in party_files(out_dir, party.id))
        print(f"\n# {party.id}: in its node config, with https base URLs in the agreement")
        print("[node.tls]")
        print(f'cert_file = "{cert}"\nkey_file = "{key}"')
        print(f'client_ca_file = "{ca}"\npeer_ca_file = "{ca}"')
    print("\nDEVELOPMENT ONLY: a node in production mode refuses these certificates.")
    return 0


def _from_config(path: Path, config_dir: Path) -> str:
    """``path`` as a node config beside the agreement would name it (relative if near)."""
    if path.is_relative_to(config_dir.parent):
        return os.path.relpath(path, config_dir)
    return str(path)


def _shown(path: Path) -> str:
    """A path relative to the project root when it is inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
