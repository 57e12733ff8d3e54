"""One node, wired: its configuration, keys, database and clock.

The agreement and the node's own configuration (config); the Node that holds
them together (node); the clients of the node's own systems (credentials);
counted refusals and failed sign-ins (refusals); operators' key rotation
(key_lifecycle); the node's audit log as a transparency log with signed
checkpoints (audit_log); the checks a production node starts with
(startup_checks); TLS for calls to peers (outbound_tls); peers' JWKS as last
fetched (published_jwks); and the auditor console's sessions (console_sessions).

It may import: gateway.store, gateway.tlog, gateway.crypto, the top-level
modules, the ``schemas`` package and libraries. Nothing of peers, exchange, HTTP,
operations tooling or the command line.
"""
