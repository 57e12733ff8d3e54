"""gunicorn settings for a gateway node (``gunicorn -c python:gateway.ops.gunicorn_config``).

This is the one gunicorn configuration of a node: ``gateway serve`` runs gunicorn
with it, setting ``GATEWAY_CONFIG``, ``GATEWAY_LISTEN``, ``GATEWAY_WORKERS`` and
``GATEWAY_THREADS`` from the node config, and passing the node's ``[node.tls]``
files on the command line (``--certfile``, ``--keyfile``, ``--ca-certs``,
``--cert-reqs``), where gunicorn takes them. Run by hand, gunicorn needs the same
variables and ``'gateway.http.app:create_app()'`` as its application.

Every module-level name that is a gunicorn setting is one (gunicorn reads this
module's globals); helpers start with an underscore so that none is taken for a
setting. docs/OPERATIONS.md describes how to serve a node.

Metrics: each worker process counts its own HTTP requests (gateway.http.metrics); for
``GET /metrics`` to show the sum over all workers, whichever answers, they write
their counts to files in a directory of their own (prometheus_client's
multiprocess mode), which :func:`on_starting` makes afresh at every start of the
server, before any worker is forked, and :func:`on_exit` removes.

Logs: :data:`logconfig_dict` formats gunicorn's own lines and the node's alike
(gateway.ops.logs): JSON, or text with ``GATEWAY_LOG_FORMAT=text``.
"""

import gc
import importlib
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable
from typing import Any

from gateway.ops.logs import ACCESS_LOG_ENV, log_format, logging_config
from gateway.ops.malloc import LARGE_REQUEST_BYTES, bound_large_allocations, release_free_memory

# Set in the master, inherited by every worker it forks (gateway.ops.malloc).
bound_large_allocations()

# The address to listen on, host:port (the node config's listen).
bind = os.environ.get("GATEWAY_LISTEN", "127.0.0.1:8700")
# Worker processes (the node config's workers).
workers = int(os.environ.get("GATEWAY_WORKERS", "3"))
# Threads let one worker hold several requests at once, so that their writes
# share a durable commit (gateway.store.groupcommit) instead of an fsync each.
worker_class = "gthread"
# Threads per worker (the node config's threads).
threads = int(os.environ.get("GATEWAY_THREADS", "6"))
# A worker silent for this many seconds is killed and replaced; a request must
# end within it (a large batch from a peer is read and stored well within it).
timeout = 60
# Each worker touches a heartbeat file at every turn of its loop (gunicorn's
# worker_tmp_dir). On a disk-backed filesystem that touch waits behind the journal
# whenever the node syncs its database, and the worker's main thread, which hands
# requests to its threads, waits with it; in memory (/dev/shm) it does not.
# gunicorn makes its file there with mkstemp and unlinks it at once (hence noqa).
_SHM = "/dev/shm"  # noqa: S108
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None
# On SIGTERM, workers finish the requests they hold for up to this many seconds.
graceful_timeout = 20
# Bodies are limited by the app (max_body_bytes); the request line and headers here.
limit_request_line = 4094
limit_request_fields = 50
# Logs go to standard error (gateway.ops.logs); gunicorn's access log only with
# GATEWAY_ACCESS_LOG=1, since the node writes a line per request itself.
_access_log = os.environ.get(ACCESS_LOG_ENV) == "1"
accesslog = "-" if _access_log else None
errorlog = "-"
loglevel = "info"
# The format of the access log's "message" (its fields are also given one by one):
# the path without its query string, as the node's own request line leaves it out.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss request_id=%({x-request-id}o)s'
# Replaces gunicorn's logging setup: its error and access logs and the node's own
# loggers, in the format GATEWAY_LOG_FORMAT names (json by default, or text).
logconfig_dict = logging_config(log_format("json"), access_log=_access_log)
# gunicorn formats an access line for every request whenever a logging configuration
# is given (as logconfig_dict is), and drops it only afterwards; without
# GATEWAY_ACCESS_LOG=1 the node's logger class does not build it at all.
logger_class = "gateway.ops.logs.GunicornLogger"
proc_name = "gateway-node"
# Several nodes may run on one host; none needs gunicorn's shared control socket.
control_socket_disable = True

_METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METRICS_PREFIX = "gateway-metrics-"
_MASTER_FILE = "master.pid"


def _master_gone(directory: str) -> bool:
    """Whether the gunicorn master that made a metrics directory has ended."""
    try:
        with open(os.path.join(directory, _MASTER_FILE), encoding="ascii") as fh:
            pid = int(fh.read().strip())
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, ValueError):
        return False  # not ours to judge: another user's, or being made
    return False


def on_starting(server: Any) -> None:
    """In the master, before any worker exists: a fresh directory for the workers' metrics.

    Set in the environment the workers inherit, where prometheus_client reads it
    when the app imports it. A directory left by an earlier run (or named in the
    environment gunicorn was started with) is not reused: counts must start at zero.
    The directories of earlier servers that were killed (no :func:`on_exit`) are
    removed here, once their master process is gone.
    """
    root = tempfile.gettempdir()
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith(_METRICS_PREFIX) and _master_gone(path):
            shutil.rmtree(path, ignore_errors=True)
    path = tempfile.mkdtemp(prefix=_METRICS_PREFIX)
    with open(os.path.join(path, _MASTER_FILE), "w", encoding="ascii") as fh:
        fh.write(f"{os.getpid()}\n")
    os.environ[_METRICS_ENV] = path
    _import_application(server)


def _import_application(server: Any) -> None:
    """With two workers or more: import the application's module in the master,
    before any worker is forked.

    Each worker then finds the modules imported (the app itself is still made in
    each worker, by gunicorn): their pages are the master's, shared by the workers
    until one writes to them, instead of a copy in each (docs/PERFORMANCE.md, "Fifth
    round"). ``gc.freeze`` keeps the collector from touching, and so copying, them.
    Done here, after the metrics directory is set, for prometheus_client to pick its
    multiprocess store. With one worker there is nothing to share, only the master to
    grow. A new release of the code therefore needs the server restarted (as it
    always did), not only its workers.
    """
    uri = getattr(getattr(server, "app", None), "app_uri", None)
    several = getattr(getattr(server, "cfg", None), "workers", 1) >= 2
    if not several or not isinstance(uri, str) or ":" not in uri:
        return
    importlib.import_module(uri.partition(":")[0])
    gc.freeze()


def post_request(worker: Any, req: Any, environ: dict[str, Any], resp: Any) -> None:
    """After a large request (a chunk, a bulk submission): its records' freed memory
    back to the system, not kept by the worker (gateway.ops.malloc)."""
    length = environ.get("CONTENT_LENGTH")
    # isascii: str.isdigit() is true of "²", which int() refuses.
    if length and length.isascii() and length.isdigit() and int(length) >= LARGE_REQUEST_BYTES:
        release_free_memory()


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: prometheus_client's bookkeeping for it (its counts are kept)."""
    # Imported here, not above: prometheus_client picks its value store when first
    # imported, and the master must not import it before on_starting has set
    # PROMETHEUS_MULTIPROC_DIR for the workers it forks.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def on_exit(server: Any) -> None:
    """The server stops: remove the workers' metrics directory."""
    path = os.environ.get(_METRICS_ENV)
    if path and os.path.basename(path).startswith(_METRICS_PREFIX):
        shutil.rmtree(path, ignore_errors=True)


def ssl_context(
    conf: Any, default_ssl_context_factory: Callable[[], ssl.SSLContext]
) -> ssl.SSLContext:
    """gunicorn's TLS context (certificate, key, client CAs and cert_reqs), TLS 1.2 or newer."""
    context = default_ssl_context_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
