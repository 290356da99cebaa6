"""The real ``tibber-tui`` in a pseudo-terminal, as a person over SSH runs it: start, read the screen, wait for exit."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios


def _become_terminal_session() -> None:
    # New session with the pty as controlling terminal, as under sshd: closing the master hangs it up.
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def start_in_pty(
    args: list[str], env: dict[str, str], *, rows: int = 24, cols: int = 80
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``tibber-tui ARGS`` on a new pty of ``cols`` x ``rows``; returns the process and the pty master."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "tibber_tui.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=_become_terminal_session,
    )
    os.close(slave)
    return process, master


async def read_until(master: int, needles: tuple[bytes, ...], limit: float) -> bytes:
    """Read the pty until every needle was written, without blocking the event loop (a simulator may run on it)."""
    seen = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not all(n in seen for n in needles):
        if loop.time() > deadline:
            missing = [n for n in needles if n not in seen]
            raise AssertionError(f"no {missing} on the terminal within {limit}s; got {seen[-2000:]!r}")
        if select.select([master], [], [], 0)[0]:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
        else:
            await asyncio.sleep(0.05)
    return seen


async def wait_exit(process: subprocess.Popen[bytes], master: int | None, limit: float) -> int:
    """The exit code, keeping the pty drained meanwhile so the program never blocks writing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while process.poll() is None:
        if loop.time() > deadline:
            raise AssertionError(f"tibber-tui did not exit within {limit}s")
        if master is not None and select.select([master], [], [], 0)[0]:
            with contextlib.suppress(OSError):
                os.read(master, 65536)
        await asyncio.sleep(0.05)
    return process.returncode
