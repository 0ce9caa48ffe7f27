"""A private, throwaway PostgreSQL server for the tests that grade against PostgreSQL.

Debian's ``postgresql`` package gives the server's programs (``initdb``, ``pg_ctl``, ``postgres``); no service
of the machine is used or needed. The server lives in a temporary folder, listens on a unix socket there
and on no TCP port, trusts local connections, and is stopped and removed afterwards. PostgreSQL refuses to
run as root: as root, it runs as the ``postgres`` user that the package creates.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) are not installed: "
    "`sudo apt-get install -y postgresql` (Debian/Ubuntu; .ci/run installs it), "
    "or put the folder holding initdb and pg_ctl on PATH"
)
SUPERUSER = "nnlab"


def server_programs() -> Path:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest ``/usr/lib/postgresql/N/bin``."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    raise RuntimeError(INSTALL_HINT)


@dataclass(frozen=True)
class Server:
    socket_directory: Path

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server (psycopg 3, through the unix socket)."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_directory}"

    def create_database(self, name: str) -> str:
        """Create an empty database ``name``; its URL."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return self.url(name)


@contextlib.contextmanager
def throwaway_server() -> Iterator[Server]:
    """Start a private PostgreSQL server (initdb + pg_ctl in a temporary folder); stop and remove it after."""
    programs = server_programs()
    folder = Path(tempfile.mkdtemp(prefix="nnlab-postgres-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        # The server refuses to run as root; the package's `postgres` user owns the folder instead.
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            message = f"running as root and there is no `postgres` user to run the server: {INSTALL_HINT}"
            raise RuntimeError(message) from None
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    log = folder / "server.log"

    def run(*command: str) -> None:
        result = subprocess.run([*as_user, *command], capture_output=True, text=True)
        if result.returncode != 0:
            server_log = log.read_text() if log.is_file() else ""
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}\n{server_log}")

    try:
        run(str(programs / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync")
        # No TCP port (nothing to collide with, nothing reachable from outside); fsync off: a test database.
        options = f"-c listen_addresses='' -k {folder} -c fsync=off -c max_connections=200"
        run(str(programs / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        try:
            yield Server(folder)
        finally:
            run(str(programs / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
