"""The real program in a pseudo-terminal: it paints, and it exits cleanly when the terminal disappears (SSH hang-up)."""

from __future__ import annotations

import os

from tests.ui.helpers import seed
from tests.ui.pty_program import read_until, start_in_pty, wait_exit
from tibber_tui.db.store import Store


async def test_observer_paints_and_exits_when_the_terminal_hangs_up(database_url: str, store: Store) -> None:
    await seed(store)
    env = {**os.environ, "DATABASE_URL": database_url, "TERM": "xterm-256color", "TIBBER_API_URL": "http://127.0.0.1:9"}
    process, master = start_in_pty(["--observe"], env)
    try:
        screen = await read_until(master, (b"Family", b"1 Tokens", b"Quit"), limit=30)
        assert b"SEEDTOKEN" not in screen  # tokens are masked on the real terminal too
        os.close(master)  # the SSH connection drops: the kernel sends SIGHUP
        master = -1
        assert await wait_exit(process, None, limit=15) == 0
    finally:
        if master >= 0:
            os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_sigterm_quits_cleanly(database_url: str, store: Store) -> None:
    await seed(store)
    env = {**os.environ, "DATABASE_URL": database_url, "TERM": "xterm-256color", "TIBBER_API_URL": "http://127.0.0.1:9"}
    process, master = start_in_pty(["--observe"], env)
    try:
        await read_until(master, (b"Family", b"Quit"), limit=30)
        process.terminate()
        assert await wait_exit(process, None, limit=15) == 0
        # the terminal was restored on the way out (alternate screen left)
        assert b"\x1b[?1049l" in await read_until(master, (b"\x1b[?1049l",), limit=5)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
