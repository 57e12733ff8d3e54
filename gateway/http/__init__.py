"""The node's HTTP face: the Flask app, its APIs and the auditor console.

The app factory (app); the API blueprints (api/): records for the node's own
systems, the node-to-node exchange, the pull outbox, the auditor API, schemas,
probes and the API's own documentation; the auditor console (console/); request
helpers shared by them (request_helpers); one JSON shape for every error
(error_responses); the OpenAPI document (openapi); Prometheus metrics
(metrics); readiness checks (readiness); and per-client rate limits (ratelimit).

It may import: gateway.exchange, gateway.ops (log format) and everything below
them, Flask and Werkzeug. Only the command line sits above it.
"""
