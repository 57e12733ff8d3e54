"""The HTTP client of a gateway node's API for the institution's own systems.

:class:`GatewayClient` submits records, follows submissions, pulls received
batches (assembling chunked ones) and acknowledges them. Every call is safe to
repeat, so every call is retried, a bounded number of times with growing waits,
when the node cannot be reached or answers ``429`` or ``503`` (waiting as long
as its ``Retry-After`` says): a submission always carries an idempotency key
(draft-ietf-httpapi-idempotency-key-header), made per call unless the caller
gives one, so that a repeat is answered with the first result instead of
storing the records twice.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import random
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import rfc8785

from gateway.client._json import loads as strict_loads
from gateway.client.errors import (
    ConnectionFailed,
    GatewayClientError,
    InvalidIdentifier,
    PermissionDenied,
    ProtocolError,
    error_from_answer,
)
from gateway.client.models import (
    Acknowledgement,
    Batch,
    BatchPage,
    BatchSummary,
    ClientInfo,
    Submission,
    SubmissionStatus,
    check_id,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "GatewayClient",
    "RetryPolicy",
    "check_idempotency_key",
    "encode_record",
    "new_idempotency_key",
    "records_sha256",
    "submission_body",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = (10.0, 120.0)  # seconds to connect, and to wait for the answer
_RETRY_STATUSES = frozenset({429, 503})
_jitter = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """How often, and after how long, a request that may succeed later is sent again.

    ``attempts``: tries in all, the first included. The wait before try ``n + 1``
    is ``backoff * 2 ** (n - 1)``, at most ``max_backoff``, of which a random
    half is taken off (so that many clients do not retry in step); a
    ``Retry-After`` of the node is waited for instead, unless it is over
    ``max_retry_after``, in which case the error is raised at once.
    """

    attempts: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0

    def wait(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait after failed try ``attempt`` (from 1); None: give up."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        step = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return step / 2 + _jitter.uniform(0, step / 2)


def new_idempotency_key() -> str:
    """A fresh idempotency key: a random UUID."""
    return str(uuid.uuid4())


def check_idempotency_key(key: str) -> str:
    """``key`` if the node takes it (1 to 255 printable ASCII characters); ValueError if not."""
    if not 1 <= len(key) <= 255 or not all(" " <= ch <= "~" for ch in key):
        raise ValueError("an idempotency key is 1 to 255 printable ASCII characters")
    return key


def _sf_string(text: str) -> str:
    """``text`` as an RFC 8941 string, the form the Idempotency-Key header takes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_record(record: Any) -> bytes:
    """A record as compact JSON (UTF-8), as :func:`submission_body` puts it in a body."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def submission_body(
    schema_version: str, encoded_records: Sequence[bytes], receiver: str | None = None
) -> bytes:
    """The body of ``POST /api/v1/datasets/<dataset>/records``, from :func:`encode_record` forms.

    ``receiver``: the party the records are for, needed where the node sends the
    dataset to several (:attr:`SubmitRight.receivers`).
    """
    head = b'{"schema_version":' + json.dumps(schema_version).encode()
    if receiver is not None:
        head += b',"receiver":' + json.dumps(receiver).encode()
    head += b',"records":['
    return head + b",".join(encoded_records) + b"]}"


def records_sha256(records: Sequence[Any]) -> str:
    """The digest the node gives a list of records: SHA-256 of its RFC 8785 canonical JSON."""
    return hashlib.sha256(rfc8785.dumps(list(records))).hexdigest()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delay-seconds or an HTTP date), if it has one."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class GatewayClient:
    """A client of one gateway node, authenticated by the client's bearer token.

    ``session``: a :class:`requests.Session` to use (for TLS client certificates,
    a CA bundle or a proxy, say); one of its own otherwise. ``timeout``: seconds
    to connect and to wait for an answer, one number for both or a pair.
    ``language``: of the node's messages about refused records (``en`` or ``id``).
    The token is sent on every request and shown nowhere.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        language: str = "en",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        if not token:
            raise ValueError("a token is required")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.session = session if session is not None else requests.Session()
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.language = language
        self._sleep = sleep
        self._info: ClientInfo | None = None

    def __repr__(self) -> str:
        return f"GatewayClient({self.base_url!r})"

    # --- the transport ----------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
    ) -> requests.Response:
        url = self.base_url + path
        sent = {"Accept": "application/json", "Accept-Language": self.language}
        if authenticated:
            sent["Authorization"] = f"Bearer {self._token}"
        if body is not None:
            sent["Content-Type"] = "application/json"
        sent.update(headers or {})
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self.session.request(
                    method, url, params=params, data=body, headers=sent, timeout=self.timeout
                )
            except requests.exceptions.SSLError as exc:
                raise ConnectionFailed(f"{method} {url}: TLS failed: {exc}") from None
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
            ) as exc:
                wait = self.retry.wait(attempt)
                if wait is None:
                    raise ConnectionFailed(
                        f"{method} {url}: no answer after {attempt} tries ({type(exc).__name__})"
                    ) from None
                log.warning(
                    "%s %s: %s; try %d in %.1f s",
                    method,
                    path,
                    type(exc).__name__,
                    attempt + 1,
                    wait,
                )
                self._sleep(wait)
                continue
            if answer.status_code in _RETRY_STATUSES:
                after = _retry_after(answer.headers.get("Retry-After"))
                wait = self.retry.wait(attempt, after)
                if wait is not None:
                    log.warning(
                        "%s %s: HTTP %d; try %d in %.1f s",
                        method,
                        path,
                        answer.status_code,
                        attempt + 1,
                        wait,
                    )
                    answer.close()
                    self._sleep(wait)
                    continue
            if answer.status_code >= 400:
                raise self._error(answer)
            return answer

    @staticmethod
    def _error(answer: requests.Response) -> GatewayClientError:
        try:
            body = strict_loads(answer.content)
        except ValueError:
            body = None
        return error_from_answer(
            answer.status_code,
            body,
            request_id=answer.headers.get("X-Request-Id"),
            retry_after=_retry_after(answer.headers.get("Retry-After")),
            reason=answer.reason or "",
        )

    @staticmethod
    def _json(answer: requests.Response) -> Any:
        try:
            return strict_loads(answer.content)
        except ValueError:
            raise ProtocolError(
                f"{answer.request.method} {answer.url}: the answer is not JSON "
                f"(Content-Type {answer.headers.get('Content-Type')!r})"
            ) from None

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return self._json(self._request("GET", path, params=params))

    # --- the node ---------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The node's liveness answer (``GET /healthz``): ``{"status": "ok"}``."""
        found = self._json(self._request("GET", "/healthz", authenticated=False))
        if not isinstance(found, dict):
            raise ProtocolError("/healthz did not answer a JSON object")
        return found

    def client_info(self, *, refresh: bool = False) -> ClientInfo:
        """What this client may submit and pull, and the node's limits (kept after the first)."""
        if self._info is None or refresh:
            self._info = ClientInfo.from_json(self._get("/api/v1/client"))
        return self._info

    def schemas(self) -> list[dict[str, Any]]:
        """The agreed dataset versions, and which flows accept each."""
        found = self._get("/api/v1/schemas").get("schemas")
        if not isinstance(found, list):
            raise ProtocolError("/api/v1/schemas: no list of schemas")
        return found

    def schema(self, dataset: str, version: str) -> dict[str, Any]:
        """The JSON Schema (2020-12) of one record of ``dataset`` at ``version``."""
        found = self._get(f"/api/v1/schemas/{_segment(dataset)}/{_segment(version)}")
        if not isinstance(found, dict):
            raise ProtocolError("the schema is not a JSON object")
        return found

    # --- submitting -------------------------------------------------------------------------

    def default_schema_version(self, dataset: str) -> str:
        """The newest schema version the agreement accepts for ``dataset`` from this node."""
        info = self.client_info()
        right = info.submit_right(dataset)
        if right is None:
            may = ", ".join(s.dataset for s in info.submit) or "nothing"
            raise PermissionDenied(
                403,
                "forbidden",
                f"client {info.client_id!r} may not submit {dataset!r} (it may submit: {may})",
            )
        return right.newest_version

    def submit(
        self,
        dataset: str,
        records: Sequence[Any],
        idempotency_key: str | None = None,
        *,
        schema_version: str | None = None,
        receiver: str | None = None,
    ) -> Submission:
        """Submit ``records`` of ``dataset``: all are stored, or none (an error says why).

        ``receiver``: the party the records are for; needed only where the node sends
        the dataset to several parties (else refused with ``receiver_required``).
        ``schema_version``: by default the newest the agreement accepts. The
        request carries ``idempotency_key`` (a new random one if None): the same
        key with the same records is answered with the first submission, and
        stores nothing again, so a call repeated after an interruption (with the
        key kept) cannot store the records twice.
        """
        version = schema_version or self.default_schema_version(dataset)
        body = submission_body(version, [encode_record(r) for r in records], receiver)
        return self.submit_body(dataset, body, idempotency_key=idempotency_key)

    def submit_body(
        self, dataset: str, body: bytes, *, idempotency_key: str | None = None
    ) -> Submission:
        """Submit a request body made by :func:`submission_body` as it is (see :meth:`submit`).

        A repeat under one key must send the very same bytes: the node compares
        the bodies' SHA-256.
        """
        key = check_idempotency_key(idempotency_key or new_idempotency_key())
        answer = self._request(
            "POST",
            f"/api/v1/datasets/{_segment(dataset)}/records",
            body=body,
            headers={"Idempotency-Key": _sf_string(key)},
        )
        replayed = answer.headers.get("Idempotent-Replayed", "").lower() == "true"
        return Submission.from_json(self._json(answer), replayed=replayed)

    def submission_status(self, submission_id: str) -> SubmissionStatus:
        """Where a submission's records are: pending, or in which batches, in which state."""
        submission_id = check_id(submission_id, what="submission id")
        return SubmissionStatus.from_json(self._get(f"/api/v1/submissions/{submission_id}"))

    # --- pulling ----------------------------------------------------------------------------

    def list_batches(
        self, dataset: str, *, after: str | None = None, limit: int = 100
    ) -> BatchPage:
        """Up to ``limit`` (1 to 1000) batches of ``dataset`` received after cursor ``after``."""
        params = {"limit": str(limit)}
        if after:
            params["after"] = after
        return BatchPage.from_json(
            self._get(f"/api/v1/datasets/{_segment(dataset)}/batches", params)
        )

    def iter_batches(
        self, dataset: str, *, after: str | None = None, page_size: int = 1000
    ) -> Iterator[BatchSummary]:
        """Every received batch of ``dataset`` after the cursor ``after``, page by page."""
        while True:
            page = self.list_batches(dataset, after=after, limit=page_size)
            yield from page.batches
            if len(page.batches) < page_size or page.next_cursor in (None, after):
                return
            after = page.next_cursor

    def get_batch(self, batch_id: str, *, verify: bool = True) -> Batch:
        """A received batch with all its records; of a chunked batch every chunk, in order.

        ``verify``: check the records against the digests the node gives (of the
        batch, or of each chunk), raising :class:`ProtocolError` on a mismatch.
        The sender's signatures are in the provenance, to be checked with its keys.
        ``batch_id`` must be a lower-case UUID (:class:`InvalidIdentifier` if not),
        and the batch answered must be that one.
        """
        batch_id = check_id(batch_id)
        document = self._get(f"/api/v1/batches/{batch_id}")
        summary = BatchSummary.from_json(document)
        if summary.batch_id != batch_id:
            raise ProtocolError(f"asked for batch {batch_id}, the node answered another")
        provenance = document.get("provenance")
        if not isinstance(provenance, dict):
            raise ProtocolError(f"batch {batch_id}: no provenance")
        if summary.chunk_count <= 1:
            records = document.get("records")
            if not isinstance(records, list):
                raise ProtocolError(f"batch {batch_id}: no records")
            if verify and summary.records_sha256 != records_sha256(records):
                raise ProtocolError(f"batch {batch_id}: the records do not match their digest")
            self._check_count(summary, len(records))
            return Batch(summary=summary, records=records, provenance=provenance)
        records = []
        chunks = []
        for index in range(summary.chunk_count):
            chunk = self._get(f"/api/v1/batches/{batch_id}/chunks/{index}")
            part = chunk.get("records") if isinstance(chunk, dict) else None
            if not isinstance(part, list) or chunk.get("record_count") != len(part):
                raise ProtocolError(f"batch {batch_id}: chunk {index} is incomplete")
            if verify and chunk.get("records_sha256") != records_sha256(part):
                raise ProtocolError(
                    f"batch {batch_id}: the records of chunk {index} do not match their digest"
                )
            records.extend(part)
            chunks.append(
                {
                    "index": index,
                    "record_count": len(part),
                    "records_sha256": chunk.get("records_sha256"),
                    "provenance": chunk.get("provenance"),
                }
            )
        self._check_count(summary, len(records))
        return Batch(summary=summary, records=records, provenance=provenance, chunks=chunks)

    @staticmethod
    def _check_count(summary: BatchSummary, count: int) -> None:
        if count != summary.record_count:
            raise ProtocolError(
                f"batch {summary.batch_id}: {count} records, {summary.record_count} announced"
            )

    def ack(self, batch_id: str) -> Acknowledgement:
        """Tell the node the batch is taken over (idempotent: again, the first answer)."""
        batch_id = check_id(batch_id)
        return Acknowledgement.from_json(
            self._json(self._request("POST", f"/api/v1/batches/{batch_id}/ack"))
        )


def _segment(value: str) -> str:
    """``value`` (a dataset name or a schema version) as one URL path segment.

    Quoting keeps ``/``, ``?`` and ``#`` inside the segment; a segment that is
    empty or all dots (``..``) would still be read as a step up the path (and
    requests sends ``%2E`` as ``.``), so it is refused.
    """
    if value.strip(".") == "":
        raise InvalidIdentifier(f"{value!r} cannot be a URL path segment", value=value)
    return urllib.parse.quote(value, safe="")
