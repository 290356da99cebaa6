"""The real program in a pseudo-terminal: it paints, and it exits cleanly when the terminal disappears (SSH hang-up)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time

from tests.ui.helpers import seed
from tibber_tui.db.store import Store


def _become_terminal_session() -> None:
    # New session with the pty as controlling terminal, as under sshd: closing the master hangs it up.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _read_until(master: int, needles: tuple[bytes, ...], limit: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + limit
    while not all(n in seen for n in needles):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {needles} on the terminal within {limit}s; got {seen[-2000:]!r}")
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen


async def test_observer_paints_and_exits_when_the_terminal_hangs_up(database_url: str, store: Store) -> None:
    await seed(store)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "DATABASE_URL": database_url, "TERM": "xterm-256color", "TIBBER_API_URL": "http://127.0.0.1:9"}
    process = subprocess.Popen(  # noqa: ASYNC220 - started once; the test then only reads the pty
        [sys.executable, "-m", "tibber_tui.cli", "--observe"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=_become_terminal_session,
    )
    os.close(slave)
    try:
        screen = _read_until(master, (b"Family", b"1 Tokens", b"Quit"), limit=30)
        assert b"SEEDTOKEN" not in screen  # tokens are masked on the real terminal too
        os.close(master)  # the SSH connection drops: the kernel sends SIGHUP
        master = -1
        assert process.wait(15) == 0
    finally:
        if master >= 0:
            os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_sigterm_quits_cleanly(database_url: str, store: Store) -> None:
    await seed(store)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {**os.environ, "DATABASE_URL": database_url, "TERM": "xterm-256color", "TIBBER_API_URL": "http://127.0.0.1:9"}
    process = subprocess.Popen(  # noqa: ASYNC220 - started once; the test then only reads the pty
        [sys.executable, "-m", "tibber_tui.cli", "--observe"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=_become_terminal_session,
    )
    os.close(slave)
    try:
        _read_until(master, (b"Family", b"Quit"), limit=30)
        process.terminate()
        assert process.wait(15) == 0
        # the terminal was restored on the way out (alternate screen left)
        assert b"\x1b[?1049l" in _read_until(master, (b"\x1b[?1049l",), limit=5)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
