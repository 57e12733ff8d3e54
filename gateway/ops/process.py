"""Running a server as a child process and waiting until it answers.

Used by ``scripts/demo``, ``scripts/bench`` and the end-to-end tests, which all
need real node processes on loopback. Waiting polls with a deadline; stopping
signals only the process (group) this object started, by its PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import requests

from gateway.node.outbound_tls import PeerTLS

__all__ = ["NodeProcess", "ServerProcess", "free_port", "wait_until"]


def wait_until(
    check: Callable[[], object], *, timeout: float, interval: float = 0.05, what: str = ""
) -> None:
    """Call ``check()`` until it returns true, or raise TimeoutError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what or check}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free at the moment of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """An HTTP server as a child process in its own process group."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        listen: str,
        env: Mapping[str, str] | None = None,
        log_path: Path,
        cwd: Path | None = None,
        tls: PeerTLS | None = None,
    ) -> None:
        self.argv = list(argv)
        self.listen = listen
        # tls: the server speaks HTTPS; the CA and client certificate to reach it with.
        self.tls = tls
        self.base_url = f"{'https' if tls is not None else 'http'}://{listen}"
        self.env = {**os.environ, **(env or {}), "GATEWAY_LISTEN": listen}
        self.log_path = log_path
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, *, timeout: float = 60) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._ready, timeout=timeout, what=f"{self.base_url}/healthz")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(
                f"{self.argv[2:4]} exited with {self.proc.returncode}:\n{self.log_tail()}"
            )
        try:
            options = (self.tls or PeerTLS()).options()
            answer = requests.get(f"{self.base_url}/healthz", timeout=1, **options)
            return answer.status_code == 200
        except requests.RequestException:
            return False

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, *, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL to its process group after ``timeout``; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        if self._log is not None:
            self._log.close()
        return self.proc.returncode

    def kill(self, *, timeout: float = 30) -> int | None:
        """SIGKILL to its whole process group, as a crash would; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=timeout)
        return self.stop()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class NodeProcess(ServerProcess):
    """``gateway serve`` for one node config, as a child process."""

    def __init__(
        self,
        config: Path,
        *,
        listen: str,
        env: Mapping[str, str] | None = None,
        log_path: Path,
        args: tuple[str, ...] = (),
        tls: PeerTLS | None = None,
    ) -> None:
        self.config = config
        super().__init__(
            [sys.executable, "-m", "gateway", "serve", "--config", str(config), *args],
            listen=listen,
            env=env,
            log_path=log_path,
            tls=tls,
        )

    def start(self, *, timeout: float = 60) -> NodeProcess:
        super().start(timeout=timeout)
        return self
