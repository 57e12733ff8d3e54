"""The path of a record: intake, validation, sealing, sending, receiving, pulling.

Records submitted by the node's own systems enter the outbox (intake) after
validation against the agreed schema (validation); they are sealed into batches
and sent to the peer, whole or in chunks (sending); batches are received,
checked and stored for the node's systems to pull (receiving,
chunked_receiving); a receiver that cannot be reached pulls instead (pull); old
payloads are purged (retention); operators steer transfers (batch_admin); and
APScheduler runs it all on the agreement's schedule (schedule).

It may import: gateway.peers and everything below it, ``schemas``, marshmallow,
requests and APScheduler. Not the web framework: HTTP is a layer above.
"""
