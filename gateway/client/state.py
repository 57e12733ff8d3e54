"""What ``gateway-client`` remembers between runs, so that an interrupted run can resume.

Each state is one small JSON file, replaced whole and synced at every step
(:func:`~gateway.client.files.write_durably`), in a per-user directory:
``$GATEWAY_CLIENT_STATE_DIR``, else ``$XDG_STATE_HOME/gateway-client``, else
``~/.local/state/gateway-client``. A run holds a lock on its state file, so two
runs of the same command do not interleave.

* A submission of a file (``submit-<key>.json``): keyed by the node, the
  dataset, the schema version, the file's SHA-256 and the chunk size; it holds
  each chunk's record range, the SHA-256 of its request body, its idempotency key
  (chosen before anything is sent) and, once the node has accepted it, its
  submission id.
* A pull of a dataset into a directory (``pull-<key>.json``): keyed by the node,
  the dataset and the directory; it holds the cursor after the last batch done.

Tokens are never written. State files are owner-only (0600), and so is a state
directory the client makes (0700), whatever the umask.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from gateway.client._json import loads as strict_loads
from gateway.client.files import make_private_dir, write_durably

__all__ = [
    "STATE_DIR_ENV",
    "Chunk",
    "PullState",
    "StateError",
    "SubmitState",
    "default_state_dir",
    "locked",
    "pull_state_path",
    "submit_key",
    "submit_states",
]

STATE_DIR_ENV = "GATEWAY_CLIENT_STATE_DIR"
FORMAT = 1


class StateError(Exception):
    """A state file cannot be used (unreadable, another run holds it, of something else)."""


def default_state_dir() -> Path:
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gateway-client"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _digest(*parts: object) -> str:
    return hashlib.sha256("\n".join(str(p) for p in parts).encode()).hexdigest()[:32]


def submit_key(
    node: str,
    dataset: str,
    version: str,
    file_sha256: str,
    chunk_size: int,
    receiver: str | None = None,
) -> str:
    """The identity of a submission of a file: what must be equal for a run to resume it."""
    named = () if receiver is None else (receiver,)  # the keys of earlier runs stay
    return _digest("submit", node, dataset, version, file_sha256, chunk_size, *named)


def pull_state_path(state_dir: Path, node: str, dataset: str, out: Path) -> Path:
    return state_dir / f"pull-{_digest('pull', node, dataset, out.resolve())}.json"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock of a state file (``<path>.lock``); StateError if another run holds it."""
    make_private_dir(path.parent)
    # Owner-only like the state file, though it holds nothing.
    fd = os.open(f"{path}.lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    lock: TextIO = os.fdopen(fd, "a")
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateError(
                f"another gateway-client run is using {path}; wait for it to end"
            ) from None
        yield
    finally:
        lock.close()


def _load(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = strict_loads(text)
    except ValueError:
        raise StateError(f"{path}: not a gateway-client state file") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise StateError(f"{path}: not a gateway-client state file of this release")
    return data


def _save(path: Path, data: dict[str, Any]) -> None:
    make_private_dir(path.parent)
    text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
    write_durably(path, text.encode("utf-8"), mode=0o600)


@dataclass
class Chunk:
    """One request of a submission: records ``first`` to ``first + count - 1`` of the file."""

    index: int
    first: int
    count: int
    body_sha256: str
    idempotency_key: str
    submission_id: str | None = None
    received_at: str | None = None

    @property
    def done(self) -> bool:
        return self.submission_id is not None


@dataclass
class SubmitState:
    """The state of the submission of one file (see the module's text)."""

    key: str
    node: str
    dataset: str
    schema_version: str
    file: str
    file_sha256: str
    file_format: str
    chunk_size: int
    max_chunk_bytes: int
    record_count: int
    chunks: list[Chunk]
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
    # "delivered": every record reached the receiver (seen by "gateway-client status");
    # "superseded": a later run of a changed file took its stored chunks over;
    # "abandoned": a later run of the file was told to --restart.
    finished: str | None = None
    superseded_by: str | None = None
    # The party the records are for, if the submission names one.
    receiver: str | None = None
    path: Path | None = field(default=None, compare=False)

    @property
    def sent(self) -> bool:
        return all(c.done for c in self.chunks)

    @property
    def records_sent(self) -> int:
        return sum(c.count for c in self.chunks if c.done)

    def save(self) -> None:
        assert self.path is not None
        self.updated_at = _now()
        data = asdict(self)
        del data["path"]
        _save(self.path, {"format": FORMAT, "kind": "submit", **data})

    @classmethod
    def load(cls, path: Path) -> SubmitState | None:
        data = _load(path)
        if data is None:
            return None
        if data.get("kind") != "submit":
            raise StateError(f"{path}: not the state of a submission")
        try:
            fields = {k: v for k, v in data.items() if k not in ("format", "kind")}
            chunks = [Chunk(**c) for c in fields.pop("chunks")]
            return cls(**fields, chunks=chunks, path=path)
        except (TypeError, KeyError):
            raise StateError(f"{path}: not a gateway-client state file of this release") from None


def submit_states(state_dir: Path) -> list[SubmitState]:
    """Every submission state in ``state_dir``, oldest first (unreadable ones left out)."""
    found = []
    for path in sorted(state_dir.glob("submit-*.json")):
        try:
            state = SubmitState.load(path)
        except StateError:
            continue
        if state is not None:
            found.append(state)
    return sorted(found, key=lambda s: (s.created_at, s.key))


@dataclass
class PullState:
    """The state of the pulls of one dataset into one directory."""

    node: str
    dataset: str
    out: str
    cursor: str | None = None
    updated_at: str = field(default_factory=_now)
    path: Path | None = field(default=None, compare=False)

    def save(self) -> None:
        assert self.path is not None
        self.updated_at = _now()
        data = asdict(self)
        del data["path"]
        _save(self.path, {"format": FORMAT, "kind": "pull", **data})

    @classmethod
    def load(cls, path: Path) -> PullState | None:
        data = _load(path)
        if data is None:
            return None
        if data.get("kind") != "pull":
            raise StateError(f"{path}: not the state of a pull")
        try:
            fields = {k: v for k, v in data.items() if k not in ("format", "kind")}
            return cls(**fields, path=path)
        except TypeError:
            raise StateError(f"{path}: not a gateway-client state file of this release") from None
