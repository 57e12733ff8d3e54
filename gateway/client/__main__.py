"""``python -m gateway.client``: the ``gateway-client`` command."""

from gateway.client.cli import main

main()
