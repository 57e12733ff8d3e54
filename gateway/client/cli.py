"""The ``gateway-client`` command: submit records files, pull received batches, follow them.

``submit`` sends a JSON, JSON Lines or CSV file in chunks, each a submission
with an idempotency key kept in a state file before it is sent, so that an
interrupted run, run again, skips the chunks stored and sends the one in flight
again under the same key (the node answers it with the first result and stores
nothing twice). ``pull`` writes each received batch durably into a directory,
then acknowledges it. ``status`` shows the node, what the client may do, what
waits to be pulled, and the submissions of files not finished.

Exit codes: 0 done; 1 the node refused (a record, a right, a key); 2 bad usage
or input (options, the file, a state file); 3 the node could not be reached or
was unavailable after the retries; 130 interrupted (run again to resume).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import requests
from tqdm import tqdm

from gateway.client.api import (
    DEFAULT_TIMEOUT,
    GatewayClient,
    encode_record,
    new_idempotency_key,
    submission_body,
)
from gateway.client.errors import (
    APIError,
    ConnectionFailed,
    GatewayClientError,
    IdempotencyKeyReused,
    NotFound,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from gateway.client.files import (
    FORMATS,
    InputError,
    RecordsFile,
    format_of,
    make_private_dir,
    read_records,
    write_durably,
)
from gateway.client.models import BatchSummary, ClientInfo, check_id
from gateway.client.state import (
    STATE_DIR_ENV,
    Chunk,
    PullState,
    StateError,
    SubmitState,
    default_state_dir,
    locked,
    pull_state_path,
    submit_key,
    submit_states,
)

__all__ = [
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_REFUSED",
    "EXIT_UNAVAILABLE",
    "cli",
    "main",
]

EXIT_REFUSED = 1
EXIT_INPUT = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130
MAX_ERRORS_SHOWN = 20

F = TypeVar("F", bound=Callable[..., Any])


class Failure(Exception):
    """The run cannot go on: a message for the user, and the exit code."""

    def __init__(self, message: str, code: int, *, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details


def new_session() -> requests.Session:
    """The HTTP session of a command (tests hand over one of their own)."""
    return requests.Session()


@dataclass(frozen=True)
class Connection:
    url: str
    token: str
    timeout: float
    ca_file: str | None
    cert: str | None
    key: str | None
    state_dir: Path
    language: str

    def client(self) -> GatewayClient:
        session = new_session()
        if self.ca_file:
            session.verify = self.ca_file
        if self.cert:
            session.cert = (self.cert, self.key) if self.key else self.cert
        return GatewayClient(
            self.url,
            self.token,
            session=session,
            timeout=(DEFAULT_TIMEOUT[0], self.timeout),
            language=self.language,
        )


def connection_options(command: F) -> F:
    """The options every command takes to reach the node (each also from the environment)."""

    @click.option("--url", envvar="GATEWAY_URL", help="the node's URL ($GATEWAY_URL)")
    @click.option(
        "--token", envvar="GATEWAY_TOKEN", help="the client's bearer token ($GATEWAY_TOKEN)"
    )
    @click.option(
        "--timeout",
        type=click.FloatRange(1, 3600),
        default=DEFAULT_TIMEOUT[1],
        show_default=True,
        help="seconds to wait for each answer",
    )
    @click.option(
        "--ca-file", envvar="GATEWAY_CA_FILE", help="CA bundle for an https node ($GATEWAY_CA_FILE)"
    )
    @click.option(
        "--cert", envvar="GATEWAY_CLIENT_CERT", help="TLS client certificate ($GATEWAY_CLIENT_CERT)"
    )
    @click.option(
        "--key", envvar="GATEWAY_CLIENT_KEY", help="its private key ($GATEWAY_CLIENT_KEY)"
    )
    @click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"where runs are remembered (${STATE_DIR_ENV}, else ~/.local/state/gateway-client)",
    )
    @click.option(
        "--language",
        type=click.Choice(["en", "id"]),
        default="en",
        show_default=True,
        help="of the node's messages about refused records",
    )
    @functools.wraps(command)
    def wrapper(
        url: str | None,
        token: str | None,
        timeout: float,
        ca_file: str | None,
        cert: str | None,
        key: str | None,
        state_dir: Path | None,
        language: str,
        **kwargs: Any,
    ) -> Any:
        if not url:
            raise Failure("give the node's URL: --url or $GATEWAY_URL", EXIT_INPUT)
        if not url.startswith(("http://", "https://")):
            raise Failure(f"--url must be an http:// or https:// URL, not {url!r}", EXIT_INPUT)
        if not token:
            raise Failure("give the client's token: --token or $GATEWAY_TOKEN", EXIT_INPUT)
        found = Connection(
            url=url.rstrip("/"),
            token=token,
            timeout=timeout,
            ca_file=ca_file,
            cert=cert,
            key=key,
            state_dir=state_dir or default_state_dir(),
            language=language,
        )
        return command(found, **kwargs)

    return wrapper  # type: ignore[return-value]


def _progress(quiet: bool, **kwargs: Any) -> tqdm[Any]:
    """A progress bar on stderr, shown only on a terminal and without --quiet."""
    return tqdm(file=sys.stderr, disable=quiet or not sys.stderr.isatty(), **kwargs)


def _say(text: str, quiet: bool) -> None:
    if not quiet:
        tqdm.write(f"gateway-client: {text}", file=sys.stderr)


@contextmanager
def _talking_to(url: str, what: str) -> Iterator[None]:
    """Turn the client's errors into failures with the right exit code."""
    try:
        yield
    except ConnectionFailed as exc:
        raise Failure(f"{what}: {exc}", EXIT_UNAVAILABLE) from None
    except (ServerError, RateLimited) as exc:
        raise Failure(f"{what}: {url} answered {exc}", EXIT_UNAVAILABLE) from None
    except APIError as exc:
        raise Failure(f"{what}: {url} answered {exc}", EXIT_REFUSED) from None
    except GatewayClientError as exc:
        raise Failure(f"{what}: {exc}", EXIT_UNAVAILABLE) from None


@click.group()
@click.version_option(package_name="bekasi-ombudsman-gateway", prog_name="gateway-client")
def cli() -> None:
    """Client of a gateway node for the institution's own systems."""
    logging.basicConfig(level=logging.WARNING, format="gateway-client: %(message)s")


# --- submit -----------------------------------------------------------------------------------


@cli.command()
@connection_options
@click.option("--dataset", required=True, help="the agreed dataset the records are of")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), help="of FILE (default: by its extension)"
)
@click.option("--schema-version", help="default: the newest the agreement accepts")
@click.option(
    "--receiver",
    help="the party the records are for (needed where the node sends the dataset to several)",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1, None),
    default=1000,
    show_default=True,
    help="records per request (at most the node's limit)",
)
@click.option(
    "--max-chunk-bytes",
    type=click.IntRange(1024, None),
    help="bytes per request (default and at most: the node's body limit)",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="the state file of this submission (default: in the state directory)",
)
@click.option(
    "--restart",
    is_flag=True,
    help="send FILE as a new submission, not as the rest of an unfinished earlier run",
)
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar, no summary")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def submit(
    conn: Connection,
    dataset: str,
    fmt: str | None,
    schema_version: str | None,
    receiver: str | None,
    chunk_size: int,
    max_chunk_bytes: int | None,
    state_file: Path | None,
    restart: bool,
    as_json: bool,
    quiet: bool,
    file: Path,
) -> None:
    """Submit the records in FILE (JSON array, JSON Lines or CSV), in chunks, resumably.

    Prints the id of each chunk's submission, one per line. Run again after an
    interruption, the same command sends only what the node has not stored.
    """
    client = conn.client()
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise Failure(f"{file}: cannot read: {exc.strerror}", EXIT_INPUT) from None
    fmt = format_of(file, fmt)
    with _talking_to(conn.url, "cannot start"):
        info = client.client_info()
    version = _agreed_version(info, conn.url, dataset, schema_version)
    schema = None
    if fmt == "csv":
        with _talking_to(conn.url, f"cannot get the schema of {dataset} {version}"):
            schema = client.schema(dataset, version)
    found = read_records(file, data, fmt, schema=schema)
    encoded = [encode_record(r) for r in found.records]
    size = min(chunk_size, info.max_records_per_submission)
    limit = min(max_chunk_bytes or info.max_body_bytes, info.max_body_bytes)
    if size < chunk_size:
        _say(f"{size} records per request, the node's limit", quiet)
    file_sha256 = hashlib.sha256(data).hexdigest()
    key = submit_key(conn.url, dataset, version, file_sha256, size, receiver)
    state_path = state_file or conn.state_dir / f"submit-{key}.json"
    with locked(state_path):
        state = _submit_state(
            conn,
            state_path,
            key=key,
            file=file,
            file_sha256=file_sha256,
            fmt=fmt,
            dataset=dataset,
            version=version,
            receiver=receiver,
            size=size,
            limit=limit,
            encoded=encoded,
            found=found,
            restart=restart,
        )
        with _talking_to(conn.url, "cannot check the submissions of an earlier run"):
            _forget_lost(client, state, quiet=quiet)
        earlier = sum(1 for c in state.chunks if c.done)
        _send(client, state, encoded, found, quiet=quiet)
    _print_submitted(state, earlier, as_json=as_json, quiet=quiet)


def _print_submitted(state: SubmitState, earlier: int, *, as_json: bool, quiet: bool) -> None:
    """The submissions' ids (or the JSON report), and what was stored, on stderr."""
    if as_json:
        click.echo(json.dumps(_submit_report(state)))
    else:
        for chunk in state.chunks:
            click.echo(chunk.submission_id)
    _say(
        f"{state.record_count} records of {state.dataset} (schema {state.schema_version}) "
        f"stored in {len(state.chunks)} submission(s)"
        + (f", {earlier} of them by an earlier run" if earlier else ""),
        quiet,
    )


def _agreed_version(info: ClientInfo, url: str, dataset: str, wanted: str | None) -> str:
    """The schema version to submit ``dataset`` in: ``wanted``, or the newest agreed."""
    right = info.submit_right(dataset)
    if right is None:
        may = ", ".join(s.dataset for s in info.submit) or "nothing"
        raise Failure(
            f"client {info.client_id!r} may not submit {dataset!r} at {url} "
            f"(it may submit: {may})",
            EXIT_REFUSED,
        )
    version = wanted or right.newest_version
    if version not in right.schema_versions:
        raise Failure(
            f"schema version {version!r} of {dataset} is not agreed "
            f"(agreed: {', '.join(right.schema_versions)})",
            EXIT_INPUT,
        )
    return version


def _plan(
    encoded: list[bytes],
    found: RecordsFile,
    version: str,
    size: int,
    limit: int,
    receiver: str | None = None,
) -> list[Chunk]:
    """Cut the records into requests of at most ``size`` records and ``limit`` bytes."""
    head = len(submission_body(version, [], receiver))
    chunks: list[Chunk] = []
    first = 0
    while first < len(encoded):
        total, count = head, 0
        while first + count < len(encoded) and count < size:
            extra = len(encoded[first + count]) + (1 if count else 0)
            if total + extra > limit:
                break
            total += extra
            count += 1
        if count == 0:
            raise Failure(
                f"{found.where(first)} is {len(encoded[first])} bytes: alone it makes a request "
                f"over the limit of {limit} bytes",
                EXIT_INPUT,
            )
        body = submission_body(version, encoded[first : first + count], receiver)
        chunks.append(
            Chunk(
                index=len(chunks),
                first=first,
                count=count,
                body_sha256=hashlib.sha256(body).hexdigest(),
                idempotency_key=new_idempotency_key(),
            )
        )
        first += count
    return chunks


def _records(chunk: Chunk) -> str:
    return f"records {chunk.first}-{chunk.first + chunk.count - 1}"


def _submit_state(
    conn: Connection,
    state_path: Path,
    *,
    key: str,
    file: Path,
    file_sha256: str,
    fmt: str,
    dataset: str,
    version: str,
    receiver: str | None,
    size: int,
    limit: int,
    encoded: list[bytes],
    found: RecordsFile,
    restart: bool,
) -> SubmitState:
    """The state to go on with: this submission's own, or a new one (taking over stored chunks).

    A new state takes over from an unfinished earlier run of the same file path
    (same node, dataset, version and chunk size) whose file has changed since,
    such as a file fixed after the node refused a record: the chunks that run
    stored must be unchanged and are not sent again, and the others keep their
    idempotency keys.
    """
    try:
        existing = SubmitState.load(state_path)
    except StateError as exc:
        raise Failure(str(exc), EXIT_INPUT) from None
    if existing is not None and existing.finished in ("superseded", "abandoned"):
        existing = None  # a later run took its chunks over, or was told to start anew
    if existing is not None and existing.key == key and not restart:
        return existing
    where = str(file.resolve())
    earlier = existing
    if earlier is None:
        candidates = [
            s
            for s in submit_states(state_path.parent)
            if (s.node, s.dataset, s.schema_version, s.chunk_size, s.file, s.receiver)
            == (conn.url, dataset, version, size, where, receiver)
            and s.finished is None
            and not s.sent
        ]
        earlier = max(candidates, key=lambda s: s.updated_at) if candidates else None
    elif (
        earlier.node,
        earlier.dataset,
        earlier.schema_version,
        earlier.chunk_size,
        earlier.receiver,
    ) != (conn.url, dataset, version, size, receiver):
        raise Failure(
            f"{state_path} is the state of another submission ({earlier.dataset} "
            f"{earlier.schema_version} to {earlier.node}, {earlier.chunk_size} records a "
            "request); give another --state",
            EXIT_INPUT,
        )
    if earlier is not None and earlier.sent and earlier.path == state_path:
        earlier = None  # a finished submission of the file as it was: this one is new
    plan_limit = limit
    if earlier is not None and not restart and earlier.max_chunk_bytes <= limit:
        plan_limit = earlier.max_chunk_bytes  # cut as that run did, so that its chunks match
    chunks = _plan(encoded, found, version, size, plan_limit, receiver)
    if earlier is not None and not restart:
        _take_over(earlier, chunks, file)
    state = SubmitState(
        key=key,
        node=conn.url,
        dataset=dataset,
        schema_version=version,
        file=where,
        file_sha256=file_sha256,
        file_format=fmt,
        chunk_size=size,
        max_chunk_bytes=plan_limit,
        record_count=len(encoded),
        chunks=chunks,
        receiver=receiver,
        path=state_path,
    )
    # The keys are on disk before the first request goes out.
    state.save()
    if earlier is not None and earlier.path != state_path:
        earlier.finished = "abandoned" if restart else "superseded"
        earlier.superseded_by = key
        earlier.save()
    return state


def _take_over(earlier: SubmitState, chunks: list[Chunk], file: Path) -> None:
    for old in earlier.chunks:
        new = chunks[old.index] if old.index < len(chunks) else None
        same = new is not None and (new.first, new.count, new.body_sha256) == (
            old.first,
            old.count,
            old.body_sha256,
        )
        if old.done:
            if new is None or not same:
                raise Failure(
                    f"{file} has changed in records that an unfinished earlier run stored "
                    f"(chunk {old.index}, {_records(old)}, submission {old.submission_id}): "
                    "restore them, or give --restart to send the whole file as a new submission",
                    EXIT_INPUT,
                )
            new.submission_id, new.received_at = old.submission_id, old.received_at
        if new is not None:
            # Not stored: the node stores nothing under a refused request's key. In flight
            # when that run stopped: the node says whether it stored it (see _send).
            new.idempotency_key = old.idempotency_key


def _forget_lost(client: GatewayClient, state: SubmitState, *, quiet: bool) -> None:
    """Send again what the state says is stored but the node does not have.

    The state file outlives the node's database: a node restored from a backup, or a
    fresh one at the same address, no longer has some (or all) of the submissions an
    earlier run recorded. Each is asked for; one the node does not know is sent again
    (its idempotency key is unknown there too, so it is stored once).
    """
    lost = []
    for chunk in state.chunks:
        if chunk.submission_id is None:
            continue
        try:
            client.submission_status(chunk.submission_id)
        except NotFound:
            lost.append(chunk)
    for chunk in lost:
        _say(
            f"chunk {chunk.index}: the node no longer has submission {chunk.submission_id} "
            "(a restored or new database?): sending it again",
            quiet,
        )
        chunk.submission_id = chunk.received_at = None
    if lost:
        state.finished = None
        state.save()


def _send(
    client: GatewayClient,
    state: SubmitState,
    encoded: list[bytes],
    found: RecordsFile,
    *,
    quiet: bool,
) -> None:
    with _progress(
        quiet,
        total=state.record_count,
        initial=state.records_sent,
        unit=" records",
        desc=state.dataset,
    ) as bar:
        for chunk in state.chunks:
            if chunk.done:
                continue
            body = submission_body(
                state.schema_version,
                encoded[chunk.first : chunk.first + chunk.count],
                state.receiver,
            )
            digest = hashlib.sha256(body).hexdigest()
            if digest != chunk.body_sha256:  # records encoded otherwise by another release
                chunk.body_sha256 = digest
                state.save()
            try:
                stored = client.submit_body(
                    state.dataset, body, idempotency_key=chunk.idempotency_key
                )
            except GatewayClientError as exc:
                raise _refused(exc, state, chunk, found) from None
            if stored.record_count != chunk.count:
                raise Failure(
                    f"chunk {chunk.index}: the node stored {stored.record_count} records, "
                    f"not {chunk.count}",
                    EXIT_UNAVAILABLE,
                )
            chunk.submission_id = stored.submission_id
            chunk.received_at = stored.received_at
            state.save()
            bar.update(chunk.count)


def _refused(
    exc: GatewayClientError, state: SubmitState, chunk: Chunk, found: RecordsFile
) -> Failure:
    stored = [c for c in state.chunks if c.done]
    so_far = (
        f"{len(stored)} of {len(state.chunks)} chunks are stored ({state.records_sent} records)"
        if stored
        else "no chunk is stored"
    )
    what = f"chunk {chunk.index} ({_records(chunk)} of {state.file})"
    if isinstance(exc, ValidationFailed):
        lines = []
        for error in exc.errors[:MAX_ERRORS_SHOWN]:
            index = error.record_index
            place = found.where(chunk.first + index) if index is not None else "the request"
            lines.append(f"  {place} {error.field_path or '/'}: {error.code}: {error.message}")
        if exc.error_count > MAX_ERRORS_SHOWN:
            lines.append(f"  ... and {exc.error_count - MAX_ERRORS_SHOWN} more")
        lines.append(f"{so_far}; fix the file and run the same command again to send the rest")
        return Failure(f"{what} refused: {exc}", EXIT_REFUSED, details=tuple(lines))
    if isinstance(exc, IdempotencyKeyReused):
        return Failure(
            f"{what}: an earlier run's request with this chunk's idempotency key was stored "
            f"with other records (the file as it was then); {so_far}. Give --restart to send "
            "the file as a new submission",
            EXIT_REFUSED,
        )
    if isinstance(exc, APIError) and exc.path and exc.path.startswith("/records/"):
        index = int(exc.path.split("/")[2])
        rest = exc.path.split("/", 3)[3] if exc.path.count("/") > 2 else ""
        return Failure(
            f"{what} refused: {found.where(chunk.first + index)} /{rest}: "
            f"HTTP {exc.status} {exc.code}: {exc.message}; {so_far}",
            EXIT_REFUSED,
        )
    resume = "; run the same command again to resume (nothing is stored twice)"
    if isinstance(exc, (ConnectionFailed, ServerError, RateLimited)):
        return Failure(f"{what} not sent: {exc}; {so_far}{resume}", EXIT_UNAVAILABLE)
    if isinstance(exc, APIError):
        return Failure(f"{what} refused: {exc}; {so_far}", EXIT_REFUSED)
    return Failure(f"{what}: {exc}; {so_far}{resume}", EXIT_UNAVAILABLE)


def _submit_report(state: SubmitState) -> dict[str, Any]:
    return {
        "file": state.file,
        "file_sha256": state.file_sha256,
        "dataset": state.dataset,
        "schema_version": state.schema_version,
        "record_count": state.record_count,
        "submissions": [
            {
                "chunk": c.index,
                "first_record": c.first,
                "record_count": c.count,
                "submission_id": c.submission_id,
                "received_at": c.received_at,
                "idempotency_key": c.idempotency_key,
            }
            for c in state.chunks
        ],
    }


# --- pull -------------------------------------------------------------------------------------


def _batch_files(out: Path, batch_id: str, fmt: str) -> tuple[Path, Path | None]:
    """The file a batch is written to, and (JSON Lines) its metadata file, written last.

    The batch id comes from the node: it must be a lower-case UUID, and each file
    must be a file of ``out`` itself (a link there to elsewhere is refused too).
    """
    try:
        check_id(batch_id, origin=" from the node")
    except GatewayClientError as exc:
        raise Failure(str(exc), EXIT_UNAVAILABLE) from None
    home = out.resolve()

    def inside(name: str) -> Path:
        if (home / name).resolve().parent != home:
            raise Failure(f"{out / name} would be outside {out}; refused", EXIT_UNAVAILABLE)
        return out / name

    if fmt == "jsonl":
        return inside(f"{batch_id}.jsonl"), inside(f"{batch_id}.meta.json")
    return inside(f"{batch_id}.json"), None


def _written(out: Path, batch_id: str, fmt: str) -> bool:
    records, meta = _batch_files(out, batch_id, fmt)
    return (meta or records).exists()


@cli.command()
@connection_options
@click.option("--dataset", required=True, help="the agreed dataset to pull")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="the directory to write batches into (made if absent)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "jsonl"]),
    default="json",
    show_default=True,
    help="json: DIR/<batch>.json, records and metadata; "
    "jsonl: DIR/<batch>.jsonl, a record per line, and DIR/<batch>.meta.json",
)
@click.option(
    "--all",
    "include_acknowledged",
    is_flag=True,
    help="also write batches acknowledged before (by this or another run) that DIR lacks",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="the state file of these pulls (default: in the state directory)",
)
@click.option("--json", "as_json", is_flag=True, help="print the result as one JSON object")
@click.option("-q", "--quiet", is_flag=True, help="no progress bar, no summary")
def pull(
    conn: Connection,
    dataset: str,
    out: Path,
    fmt: str,
    include_acknowledged: bool,
    state_file: Path | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """Write each batch of DATASET not yet pulled into DIR, durably, then acknowledge it.

    Prints the file of each batch written or acknowledged, one per line. A
    batch written but not acknowledged (the run stopped between) is
    acknowledged by the next run, without writing it again.
    """
    client = conn.client()
    try:
        make_private_dir(out)  # what is pulled is personal data: owner-only
    except OSError as exc:
        raise Failure(f"{out}: cannot make the directory: {exc.strerror}", EXIT_INPUT) from None
    state_path = state_file or pull_state_path(conn.state_dir, conn.url, dataset, out)
    done: list[dict[str, Any]] = []
    with locked(state_path):
        try:
            state = PullState.load(state_path)
        except StateError as exc:
            raise Failure(str(exc), EXIT_INPUT) from None
        if state is None:
            state = PullState(node=conn.url, dataset=dataset, out=str(out.resolve()))
        elif (state.node, state.dataset) != (conn.url, dataset):
            raise Failure(
                f"{state_path} is the state of pulls of {state.dataset} from {state.node}; "
                "give another --state",
                EXIT_INPUT,
            )
        state.path = state_path
        with _talking_to(conn.url, f"cannot list the batches of {dataset}"):
            listed = list(client.iter_batches(dataset, after=state.cursor))
        work = _pull_work(listed, out, fmt, include_acknowledged=include_acknowledged)
        total = sum(s.record_count for s, action in work if action == "write")
        with _progress(quiet, total=total, unit=" records", desc=dataset) as bar:
            for summary, action in work:
                if action != "skip":
                    done.append(_pull_one(client, conn.url, out, fmt, summary, action))
                    bar.update(summary.record_count if action == "write" else 0)
                    if not as_json:
                        click.echo(done[-1]["file"])
                state.cursor = summary.cursor
                if action != "skip":
                    state.save()
        if work and work[-1][1] == "skip":
            state.save()
    if as_json:
        click.echo(
            json.dumps(
                {"dataset": dataset, "out": str(out), "cursor": state.cursor, "batches": done}
            )
        )
    written = [d for d in done if d["action"] == "written"]
    _say(
        f"{len(written)} batch(es) of {dataset} written to {out} "
        f"({sum(d['record_count'] for d in written)} records), "
        f"{sum(1 for d in done if d['acknowledged_now'])} acknowledged",
        quiet,
    )


def _pull_work(
    listed: list[BatchSummary], out: Path, fmt: str, *, include_acknowledged: bool
) -> list[tuple[BatchSummary, str]]:
    """What to do with each listed batch: ``write``, ``acknowledge`` or ``skip``."""
    work: list[tuple[BatchSummary, str]] = []
    for summary in listed:
        on_disk = _written(out, summary.batch_id, fmt)
        if summary.acknowledged_at is None:
            work.append((summary, "acknowledge" if on_disk else "write"))
        elif include_acknowledged and not on_disk and summary.purged_at is None:
            work.append((summary, "write"))
        else:
            work.append((summary, "skip"))
    return work


def _pull_one(
    client: GatewayClient, url: str, out: Path, fmt: str, summary: BatchSummary, action: str
) -> dict[str, Any]:
    batch_id = summary.batch_id
    records_file, meta_file = _batch_files(out, batch_id, fmt)
    if action == "write":
        with _talking_to(url, f"cannot get batch {batch_id}"):
            batch = client.get_batch(batch_id)
        metadata = batch.metadata()
        if meta_file is None:
            document = {**metadata, "records": batch.records}
            write_durably(records_file, _json_bytes(document))
        else:
            lines = b"".join(_json_bytes(r, indent=None) for r in batch.records)
            write_durably(records_file, lines)
            write_durably(meta_file, _json_bytes(metadata))  # last: the batch is complete
    acknowledged_at = summary.acknowledged_at
    now = acknowledged_at is None
    if acknowledged_at is None:
        with _talking_to(url, f"cannot acknowledge batch {batch_id} (written to {records_file})"):
            acknowledged_at = client.ack(batch_id).acknowledged_at
    return {
        "batch_id": batch_id,
        "file": str(records_file),
        "record_count": summary.record_count,
        "action": "written" if action == "write" else "acknowledged",
        "acknowledged_at": acknowledged_at,
        "acknowledged_now": now,
    }


def _json_bytes(value: Any, *, indent: int | None = 1) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=indent) + "\n").encode("utf-8")


# --- status -----------------------------------------------------------------------------------


@cli.command()
@connection_options
@click.option("--json", "as_json", is_flag=True, help="print the status as one JSON object")
def status(conn: Connection, as_json: bool) -> None:
    """The node's health, what this client may do, what waits to be pulled, unfinished submissions.

    A local submission is finished once the node has stored every chunk and the
    receiver has taken every record; until then it is shown with where its
    records are.
    """
    client = conn.client()
    report: dict[str, Any] = {"node": conn.url}
    code = 0
    try:
        report["health"] = client.health().get("status", "unknown")
    except GatewayClientError as exc:
        report["health"] = f"unreachable: {exc}"
        code = EXIT_UNAVAILABLE
    info: ClientInfo | None = None
    if code == 0:
        try:
            info = client.client_info()
        except GatewayClientError as exc:
            report["client_error"] = str(exc)
            code = EXIT_REFUSED if isinstance(exc, APIError) else EXIT_UNAVAILABLE
    if info is not None:
        report["client"] = {
            "client_id": info.client_id,
            "party": info.party,
            "roles": list(info.roles),
            "submit": [
                {
                    "dataset": s.dataset,
                    "receiver": s.receiver,
                    "schema_versions": list(s.schema_versions),
                }
                for s in info.submit
            ],
            "pull": [{"dataset": p.dataset, "senders": list(p.senders)} for p in info.pull],
            "limits": {
                "max_records_per_submission": info.max_records_per_submission,
                "max_body_bytes": info.max_body_bytes,
            },
        }
        waiting: dict[str, dict[str, Any]] = {}
        for right in info.pull:
            batches = records = 0
            try:
                for summary in client.iter_batches(right.dataset):
                    if summary.acknowledged_at is None:
                        batches += 1
                        records += summary.record_count
                waiting[right.dataset] = {"batches": batches, "records": records}
            except GatewayClientError as exc:
                waiting[right.dataset] = {"error": str(exc)}
                code = code or EXIT_UNAVAILABLE
        report["waiting"] = waiting
    report["submissions"] = _local_submissions(client, conn, online=info is not None)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        _print_status(report)
    if code:
        sys.exit(code)


def _local_submissions(
    client: GatewayClient, conn: Connection, *, online: bool
) -> list[dict[str, Any]]:
    found = []
    for state in submit_states(conn.state_dir):
        if state.node != conn.url or state.finished is not None:
            continue
        item: dict[str, Any] = {
            "file": state.file,
            "dataset": state.dataset,
            "schema_version": state.schema_version,
            "record_count": state.record_count,
            "chunks": len(state.chunks),
            "chunks_stored": sum(1 for c in state.chunks if c.done),
            "state_file": str(state.path),
        }
        if online:
            records: dict[str, int] = {}
            try:
                for chunk in state.chunks:
                    if chunk.submission_id is None:
                        continue
                    where = client.submission_status(chunk.submission_id)
                    for name, count in where.records.items():
                        records[name] = records.get(name, 0) + count
            except GatewayClientError as exc:
                item["error"] = str(exc)
            else:
                records = {k: v for k, v in records.items() if v}
                item["records"] = records
                if state.sent and records.get("delivered", 0) == state.record_count:
                    item["finished"] = True
                    _mark_delivered(state)
        found.append(item)
    return found


def _mark_delivered(state: SubmitState) -> None:
    assert state.path is not None
    try:
        with locked(state.path):
            state.finished = "delivered"
            state.save()
    except StateError:
        pass  # a submit run holds it; the next status marks it


def _print_status(report: dict[str, Any]) -> None:
    echo = click.echo
    echo(f"node {report['node']}: {report['health']}")
    client = report.get("client")
    if report.get("client_error"):
        echo(f"client: {report['client_error']}")
    if client:
        roles = ", ".join(client["roles"]) or "none"
        echo(f"client {client['client_id']} of {client['party']} (roles: {roles})")
        submit = [
            f"{s['dataset']} (to {s['receiver']}; schema {', '.join(s['schema_versions'])})"
            for s in client["submit"]
        ]
        echo(f"  may submit: {'; '.join(submit) or 'nothing'}")
        pull = [
            f"{p['dataset']} (from {', '.join(p['senders']) or 'no one'})" for p in client["pull"]
        ]
        echo(f"  may pull: {'; '.join(pull) or 'nothing'}")
        limits = client["limits"]
        echo(
            f"  per submission at most {limits['max_records_per_submission']} records, "
            f"{limits['max_body_bytes']} bytes"
        )
    if report.get("waiting") is not None:
        echo("waiting to be pulled:" if report["waiting"] else "waiting to be pulled: nothing")
        for dataset, waiting in report["waiting"].items():
            if "error" in waiting:
                echo(f"  {dataset}: {waiting['error']}")
            else:
                echo(f"  {dataset}: {waiting['batches']} batch(es), {waiting['records']} records")
    submissions = report["submissions"]
    echo("local submissions not finished:" if submissions else "local submissions: all finished")
    for item in submissions:
        where = item.get("error") or ", ".join(
            f"{count} {name}" for name, count in item.get("records", {}).items()
        )
        done = " (finished now)" if item.get("finished") else ""
        echo(
            f"  {item['file']} ({item['dataset']} {item['schema_version']}): "
            f"{item['chunks_stored']} of {item['chunks']} chunks stored"
            + (f"; records: {where}" if where else "")
            + done
        )


# --- the entry point --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="gateway-client", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_INPUT)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(
            "gateway-client: interrupted; run the same command again to resume "
            "(nothing is stored twice)",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    except Failure as exc:
        click.echo(f"gateway-client: error: {exc.message}", err=True)
        for line in exc.details:
            click.echo(f"gateway-client: {line}", err=True)
        sys.exit(exc.code)
    except InputError as exc:
        click.echo(f"gateway-client: error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except StateError as exc:
        click.echo(f"gateway-client: error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except OSError as exc:
        click.echo(f"gateway-client: error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
