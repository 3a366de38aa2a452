"""An embedded PostgreSQL server for Dagster's storage (SPEC §9b): `hot cluster` and the
cluster tests start one; production points ``HOT_DAGSTER_PG_URL`` at a managed PostgreSQL.

It runs the system's PostgreSQL (the ``postgresql`` package the setup installs:
``/usr/lib/postgresql/<version>/bin``), on loopback only (TCP, no Unix socket), with its data
under one directory: ``data/`` (initialised once, by ``initdb``), ``postgres.log`` and
``password`` (generated once, for the roles below). At each start it makes sure of a role
``dagster`` and a database ``dagster`` it owns; :attr:`EmbeddedPostgres.url` reaches them.

PostgreSQL refuses to run as root: started by root, it runs as the system user the package
creates (``postgres``, else ``nobody``), which then owns the directory. That user must be able
to reach it: every folder above it searchable by others (``/tmp`` and a project checkout are;
pytest's ``tmp_path`` is not, being private to its user).
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import signal
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psycopg2
from tenacity import RetryError, retry_if_exception_type

from hot.local.processes import while_starting
from hot.local.redis_server import free_port

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
"""Where Debian's ``postgresql`` package puts ``initdb`` and ``postgres`` (not on PATH)."""
RUN_AS_USERS = ("postgres", "nobody")
"""Who runs the server when root starts it: the package's user, else ``nobody``."""
DATABASE = "dagster"
ROLE = "dagster"
SUPERUSER = "postgres"
STOP_GRACE_SEC = 20.0
"""How long a fast shutdown may take before the server is killed."""


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the postmaster and its backends (its process group), and reap it."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


class PostgresNotInstalledError(RuntimeError):
    """No PostgreSQL server binaries (the setup installs the ``postgresql`` package)."""


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's ``bin`` folder."""
    found = sorted(
        (p for p in Path("/").glob(PG_BIN_GLOB.lstrip("/")) if (p / "postgres").is_file()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresNotInstalledError(
            "PostgreSQL is not installed; run `make setup` (or apt-get install postgresql)"
        )
    return found[-1]


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as (``None``: this process's own user)."""
    if os.geteuid() != 0:
        return None
    for name in RUN_AS_USERS:
        with suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError(f"PostgreSQL refuses to run as root and none of {RUN_AS_USERS} exists")


def _check_reachable(directory: Path, user: pwd.struct_passwd) -> None:
    """Fail with a clear message when ``user`` could not reach ``directory``."""
    for folder in directory.parents:
        info = folder.stat()
        if info.st_uid != user.pw_uid and not info.st_mode & stat.S_IXOTH:
            raise RuntimeError(
                f"PostgreSQL runs as {user.pw_name!r}, which cannot reach {directory}: "
                f"{folder} is not searchable by others (chmod o+x it, or use another folder)"
            )


class EmbeddedPostgres:
    """A PostgreSQL server bound to 127.0.0.1, its data in ``directory``.

    The interface the cluster's parts share: :meth:`start`, :meth:`stop`, :meth:`kill`,
    :meth:`restart`, :meth:`pids`, :meth:`env` (what a client of the cluster needs).
    """

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory.resolve()
        self.port = port or free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._user = _run_as()

    @property
    def data_dir(self) -> Path:
        """The server's data directory (``PGDATA``)."""
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        """The server's log (its standard output and error)."""
        return self.directory / "postgres.log"

    @property
    def password(self) -> str:
        """The password of the ``dagster`` and superuser roles (made at the first start)."""
        return (self.directory / "password").read_text().strip()

    @property
    def url(self) -> str:
        """SQLAlchemy/libpq URL of the ``dagster`` database, as the ``dagster`` role."""
        return f"postgresql://{ROLE}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def pid(self) -> int | None:
        """The postmaster's process id while this object runs it."""
        return self._proc.pid if self._proc is not None else None

    def pids(self) -> dict[str, int]:
        """Role → pid of the running processes (``postgres``: the postmaster)."""
        return {"postgres": self._proc.pid} if self._proc and self._proc.poll() is None else {}

    def env(self) -> dict[str, str]:
        """The settings a client of this server needs."""
        return {"HOT_DAGSTER_PG_URL": self.url}

    def _as_user(self) -> dict[str, object]:
        """``Popen`` arguments that run a command as the server's user (nothing if not root)."""
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _prepare(self, bin_dir: Path) -> None:
        """The directory, owned by the server's user; ``initdb`` the first time."""
        self.directory.mkdir(parents=True, exist_ok=True)
        password_file = self.directory / "password"
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(24) + "\n")
            password_file.chmod(0o600)
        if self._user is not None:
            _check_reachable(self.directory, self._user)
            for path in (self.directory, password_file):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
        if (self.data_dir / "PG_VERSION").exists():
            return
        initdb = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "--pgdata",
                str(self.data_dir),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(password_file),
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--no-locale",
            ],
            capture_output=True,
            check=False,
            cwd=self.directory,
            **self._as_user(),  # type: ignore[arg-type]
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed: {initdb.stderr.decode()[-2000:]}")

    def start(self, timeout: float = 60.0) -> EmbeddedPostgres:
        """Start the server, wait until it accepts connections, make the role and database."""
        bin_dir = postgres_bin_dir()
        self._prepare(bin_dir)
        args = [
            str(bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "logging_collector=off",
        ]
        with open(self.log_file, "ab") as log:
            # In a session of its own: a Ctrl-C at the terminal reaches only the command,
            # which stops the server after what writes to it.
            self._proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
                **self._as_user(),  # type: ignore[call-overload]
            )
        atexit.register(self.stop)
        try:
            while_starting(
                self._proc, retry_if_exception_type(psycopg2.OperationalError), timeout, 0.1
            )(self._bootstrap)
        except RetryError:
            detail = self.log_file.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"PostgreSQL did not start on port {self.port}: {detail}") from None
        return self

    @contextmanager
    def _superuser(self) -> Iterator[psycopg2.extensions.cursor]:
        conn = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=SUPERUSER,
            password=self.password,
            dbname="postgres",
            connect_timeout=2,
        )
        conn.autocommit = True  # CREATE DATABASE refuses to run in a transaction
        try:
            with conn.cursor() as cursor:
                yield cursor
        finally:
            conn.close()

    def _bootstrap(self) -> None:
        """The ``dagster`` role (its password as the file says) and database, if missing."""
        with self._superuser() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(f"{verb} ROLE {ROLE} LOGIN PASSWORD %s", (self.password,))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def create_database(self, name: str) -> str:
        """A new, empty database ``name`` owned by the ``dagster`` role; its URL (a fresh
        Dagster storage for a test or a benchmark beside the others on this server)."""
        with self._superuser() as cur:
            cur.execute(f'CREATE DATABASE "{name}" OWNER {ROLE}')
        return self.url.rsplit("/", 1)[0] + f"/{name}"

    def stop(self) -> None:
        """Stop the server: a fast shutdown (SIGINT: clients disconnected, a checkpoint
        written), the process group killed if it takes longer than a grace period. After a
        postmaster that died (killed by an operator or a test), its backends still running
        are killed, so that the next start finds its shared memory free."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_GRACE_SEC)
        _kill_group(proc)

    def kill(self) -> None:
        """Kill the server abruptly, its backends too (failure tests); the next start
        recovers from the write-ahead log."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            _kill_group(proc)

    def restart(self, role: str = "postgres", timeout: float = 60.0) -> None:
        """Stop ``role`` (the only one: ``postgres``) and start it again on the same port."""
        if role != "postgres":
            raise KeyError(f"no role {role!r} in an EmbeddedPostgres (only 'postgres')")
        self.stop()
        self.start(timeout)

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
