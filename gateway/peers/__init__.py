"""Talking to the peer nodes: who is calling, whose keys, whose log.

Signed node-to-node requests, made and verified (signed_requests); fetching the
peers' JWKS to pick up rotated keys (jwks); witnessing each other's audit logs
with C2SP tlog-witness and tlog-cosignature (witness); and evidence bundles of
this node's log for auditors (bundles).

It may import: gateway.node and everything below it, and requests. Nothing of
exchange, HTTP, operations tooling or the command line.
"""
