"""The transparency log's formats and their offline verification (RFC 9162, C2SP).

The Merkle tree, its proofs and their verification (merkle); signed notes,
checkpoints, cosignatures and the witness protocol's texts (note); and the
auditor's side (auditor): verifying a log, a bundle or two parties' logs from
the keys the auditor trusts, without trusting, or running, a node.

It may import: gateway.crypto, the top-level modules, and requests for the
auditor's HTTP client. Never a node's database, configuration or web framework
(import-linter's tlog-offline contract). The node's own log lives in
gateway.node.audit_log, the witness protocol between nodes in gateway.peers.witness.
"""
