"""The ``gateway`` command: thin Click wrappers over the core, one module per group.

Each command group (keys, envelope, transfer, clients, console, retention,
audit, db, backup, schemas, openapi, proxy, serve, ...) is a module; the root
group is in main; the one way a command opens a node and always closes it is in
common.

It may import anything in the package: it is the top layer, and nothing imports it.
"""
