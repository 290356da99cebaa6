"""The real program on a 256-colour terminal (no COLORTERM): it paints with 256-colour codes only.

Many SSH sessions, tmux and older terminals advertise ``TERM=xterm-256color`` without ``COLORTERM=truecolor``;
24-bit codes would show as garbage or wrong colours there.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

from tests.ui.test_terminal import _become_terminal_session
from tibber_tui.db.store import Store
from tibber_tui.simulator import Simulator

TOKEN = "SIMTOKEN-COLOURS-0000000000000000000000000000C0L8"
SGR = re.compile(rb"\x1b\[([0-9;:]*)m")
# Anything that could make Textual or Rich choose another colour system than the one TERM implies.
COLOUR_OVERRIDES = ("COLORTERM", "TEXTUAL_COLOR_SYSTEM", "NO_COLOR", "FORCE_COLOR", "TERM_PROGRAM")


def colour_kinds(output: bytes) -> set[str]:
    """The colour encodings of the SGR sequences in ``output``: ``256`` (38;5;n), ``truecolor`` (38;2;r;g;b)."""
    kinds: set[str] = set()
    for match in SGR.finditer(output):
        params = re.split(rb"[;:]", match.group(1))
        i = 0
        while i < len(params):
            if params[i] in (b"38", b"48", b"58") and i + 1 < len(params):
                if params[i + 1] == b"5":
                    kinds.add("256")
                    i += 3
                    continue
                if params[i + 1] == b"2":
                    kinds.add("truecolor")
                    i += 5
                    continue
            i += 1
    return kinds


def test_colour_kinds_parser() -> None:
    assert colour_kinds(b"\x1b[1;38;5;253;48;5;17mx\x1b[0m") == {"256"}
    assert colour_kinds(b"\x1b[38;2;10;20;30mx") == {"truecolor"}
    # 5 and 2 as ordinary parameters (blink, dim) are not colour encodings
    assert colour_kinds(b"\x1b[5;2mx") == set()


async def _read_until(master: int, needles: tuple[bytes, ...], limit: float) -> bytes:
    """Read the pty without blocking the event loop (the simulator serves the program from this loop)."""
    seen = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not all(n in seen for n in needles):
        if loop.time() > deadline:
            missing = [n for n in needles if n not in seen]
            raise AssertionError(f"no {missing} on the terminal within {limit}s; got {seen[-2000:]!r}")
        ready, _, _ = select.select([master], [], [], 0)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
        else:
            await asyncio.sleep(0.05)
    return seen


async def _wait_exit(process: subprocess.Popen[bytes], master: int, limit: float) -> int:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while process.poll() is None:
        if loop.time() > deadline:
            raise AssertionError(f"tibber-tui did not exit within {limit}s")
        if select.select([master], [], [], 0)[0]:
            with contextlib.suppress(OSError):
                os.read(master, 65536)  # keep the pty drained so the program never blocks writing
        await asyncio.sleep(0.05)
    return process.returncode


async def test_256_colour_terminal_gets_no_truecolor(database_url: str, store: Store, simulator: Simulator) -> None:
    simulator.add_token(TOKEN, homes=1)
    await store.add_token(TOKEN, "Colours")
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_OVERRIDES}
    env.update(DATABASE_URL=database_url, TERM="xterm-256color", TIBBER_API_URL=simulator.url)
    process = subprocess.Popen(  # noqa: ASYNC220 - started once; the test then only reads the pty
        [sys.executable, "-m", "tibber_tui.cli"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=_become_terminal_session,
    )
    os.close(slave)
    try:
        # collecting the simulator's token: panes, the masked token, its state and the footer are on screen
        screen = await _read_until(master, (b"1 Tokens", "…C0L8".encode(), b"collecting", b"Quit"), limit=30)
        assert TOKEN.encode() not in screen and b"SIMTOKEN" not in screen
        assert colour_kinds(screen) == {"256"}, "the dashboard must use 256-colour codes and no 24-bit ones"
        os.write(master, b"q")
        assert await _wait_exit(process, master, limit=20) == 0
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
