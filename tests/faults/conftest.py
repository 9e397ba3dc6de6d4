"""Fault injection: a throwaway PostgreSQL cluster of the test's own, and small file systems.

The shared PostgreSQL server is never stopped or paused: these tests start their own cluster
(``initdb``/``pg_ctl`` into a temporary directory, on a free loopback port) and do to it what
the tests need. As root, the cluster runs as the ``postgres`` user, since PostgreSQL refuses root.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from earlywarn.settings import Settings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _postgres_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL cluster that a test may stop, start, pause and resume."""

    bin_dir: Path
    data_dir: Path
    port: int
    as_user: str | None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_user is not None:
            command = ["runuser", "-u", self.as_user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {done.stderr.strip()[-2000:]}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=60"
        )
        log = self.data_dir / "server.log"
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(log), "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def _pids(self) -> list[int]:
        """The postmaster and every process it started (its backends and workers)."""
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def pause(self) -> None:
        """SIGSTOP the whole server: connections stay open, nothing answers (a hung server)."""
        for pid in self._pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        for pid in self._pids():
            os.kill(pid, signal.SIGCONT)

    def destroy(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # not running: nothing to resume
            self.resume()
        with contextlib.suppress(RuntimeError):  # already stopped
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.fixture
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    # Not under pytest's temporary directory: that one is private to the user running the
    # tests, and the server may have to run as another user.
    base = Path(tempfile.mkdtemp(prefix="earlywarn-throwaway-pg-"))
    as_user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = "postgres"
        shutil.chown(base, user="postgres")
    cluster = ThrowawayPostgres(bin_dir, base / "data", _free_port(), as_user)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount a small tmpfs (root only); skips with the reason when mounting is not allowed."""
    mounted: list[Path] = []

    def mount(size: str = "16m") -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", "-l", str(point)], check=False, capture_output=True)


def _fault_settings(default_data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": default_data_dir,
        "scheduler_enabled": False,
        "bootstrap_admin_key": None,
        "worldbank_base_url": "http://127.0.0.1:1",
        "http_max_attempts": 1,
        "http_timeout_seconds": 1.0,
        "database_connect_timeout_seconds": 2,
        "database_statement_timeout_seconds": 1.0,
        "database_pool_timeout_seconds": 2.0,
        "unavailable_retry_after_seconds": 7,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def fault_settings(tmp_path: Path) -> Callable[..., Settings]:
    return functools.partial(_fault_settings, tmp_path)


@pytest.fixture
def testclient_class() -> type[TestClient]:
    return TestClient
