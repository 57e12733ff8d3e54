"""The ``gateway`` command: thin Click wrappers over the core, one module per command group.

:mod:`gateway.cli.main` holds the root group and ``main`` (the console script)
and adds every group to the root; :mod:`gateway.cli.common` holds what the
groups share (the ``--config`` option, opening the node). A group module
imports ``common``, never ``main`` nor another group.

The cli is the top layer: it may import anything below it (http, exchange, ops,
peers, node, store, tlog, crypto, the top-level modules and ``schemas``).
Nothing below it imports the cli; only ``python -m gateway`` runs it.
"""
