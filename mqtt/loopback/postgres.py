"""A throwaway PostgreSQL server on loopback, for the tests and the benchmarks.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` user
(initdb/pg_ctl run through ``runuser``) in a directory chowned to it; otherwise it runs as us.
Usage (``unavailable_reason()`` says first why there is none, e.g. PostgreSQL not installed)::

    server = PgServer(workdir).start()
    url = server.new_database()            # 'postgresql://postgres@127.0.0.1:41234/db_1'
    server.stop()

The default options keep PostgreSQL's durability (``fsync`` and ``synchronous_commit`` on), so a
committed and acked event is on disk, as with SQLite's ``synchronous=FULL``; ``wal_level=minimal``
lets the trace-scaling bulk load skip the WAL and changes nothing for ordinary commits. The tests
pass :data:`FAST_OPTIONS` instead: durability does not matter to them, time does.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
from pathlib import Path

from mqtt.loopback.mosquitto import free_port

BENCH_OPTIONS = ("-c max_connections=20 -c shared_buffers=1GB -c work_mem=64MB -c maintenance_work_mem=1GB "
                 "-c wal_level=minimal -c max_wal_senders=0 -c max_wal_size=8GB -c checkpoint_timeout=30min")
FAST_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
_names = itertools.count(1)


def find_bindir() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin with initdb and pg_ctl, or the ones on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    for c in reversed(candidates):
        if os.path.exists(os.path.join(os.path.dirname(c), "initdb")):
            return Path(c).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


def unavailable_reason() -> str | None:
    """Why the PostgreSQL rows cannot run here, or None if they can."""
    if find_bindir() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) not installed"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg not installed (pip install 'checkin-kiosk[postgres]')"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to own the cluster"
    return None


class PgServer:
    """workdir: an empty directory for the cluster (removed by :meth:`stop` when ``remove``);
    options: extra ``postgres -c`` settings."""

    def __init__(self, workdir: Path, *, options: str = BENCH_OPTIONS, remove: bool = False):
        self.bindir = find_bindir()
        self.options = options
        self.remove = remove
        self.port = free_port()
        self.dir = Path(workdir)
        self.data = self.dir / "data"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        os.chmod(self.dir, 0o700)

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({proc.returncode}): {proc.stderr or proc.stdout}")

    def start(self) -> PgServer:
        """Start the server, its cluster made the first time (so a stopped server starts again with its
        data, unless ``remove`` took it)."""
        if not (self.data / "PG_VERSION").exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "--no-locale", "-E", "UTF8", "--no-sync")
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir} "
                f"{self.options}")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"),
                  "-o", opts, "-w", "-t", "60", "start")
        return self

    @property
    def version(self) -> str:
        return self.bindir.parent.name

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str | None = None) -> str:
        """A fresh, empty database (named ``db_N`` unless named); its URL."""
        import psycopg
        name = name or f"db_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            if self.remove:
                shutil.rmtree(self.dir, ignore_errors=True)
