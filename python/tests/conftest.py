"""Fixtures: a real trackd server (the `trackd` binary) on 127.0.0.1, started per test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import trackd

REPO = Path(__file__).resolve().parents[2]


def trackd_binary() -> str:
    binary = os.environ.get("TRACKD_BIN") or str(REPO / "target" / "debug" / "trackd")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no trackd binary at {binary}: run `cargo build -p trackd-cli` or set TRACKD_BIN")
    return binary


class Server:
    """A `trackd server` child process on a store directory; `kill()` is SIGKILL,
    `start()` again reuses the store and the port."""

    def __init__(self, store: Path, port: int = 0, args: list | None = None, env: dict | None = None):
        self.store = store
        self.port = port
        self.args = args or []
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> "Server":
        self.proc = subprocess.Popen(
            [trackd_binary(), "server", "--store", str(self.store), "--host", "127.0.0.1",
             "--port", str(self.port), *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **self.env},
        )
        # Log lines (stdout) may come first; the listening line is among the first few.
        seen = []
        for _ in range(50):
            line = self.proc.stdout.readline()
            seen.append(line)
            if "listening on " in line or not line:
                break
        if "listening on " not in line:
            self.proc.kill()
            raise RuntimeError(f"trackd did not start: {seen!r} {self.proc.stderr.read()}")
        self.url = line.split("listening on ", 1)[1].split(" ", 1)[0]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "store").start()
    trackd.set_tracking_uri(s.url)
    yield s
    _end_runs()
    s.stop()


@pytest.fixture
def mlflow_client(server):
    mlflow = pytest.importorskip("mlflow") if not os.environ.get("TRACKD_TEST_TOOLS") else __import__("mlflow")
    return mlflow.MlflowClient(tracking_uri=server.url)


def _end_runs() -> None:
    while trackd.active_run() is not None:
        try:
            trackd.end_run()
        except trackd.TrackdError:
            pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def python() -> str:
    return sys.executable
