"""The real program on a 256-colour terminal (no COLORTERM): it paints with 256-colour codes only.

Many SSH sessions, tmux and older terminals advertise ``TERM=xterm-256color`` without ``COLORTERM=truecolor``;
24-bit codes would show as garbage or wrong colours there.
"""

from __future__ import annotations

import os
import re

from tests.ui.pty_program import read_until, start_in_pty, wait_exit
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


async def test_256_colour_terminal_gets_no_truecolor(database_url: str, store: Store, simulator: Simulator) -> None:
    simulator.add_token(TOKEN, homes=1)
    await store.add_token(TOKEN, "Colours")
    env = {k: v for k, v in os.environ.items() if k not in COLOUR_OVERRIDES}
    env.update(DATABASE_URL=database_url, TERM="xterm-256color", TIBBER_API_URL=simulator.url)
    process, master = start_in_pty([], env)
    try:
        # collecting the simulator's token: panes, the masked token, its state and the footer are on screen
        screen = await read_until(master, (b"1 Tokens", "…C0L8".encode(), b"collecting", b"Quit"), limit=30)
        assert TOKEN.encode() not in screen and b"SIMTOKEN" not in screen
        assert colour_kinds(screen) == {"256"}, "the dashboard must use 256-colour codes and no 24-bit ones"
        os.write(master, b"q")
        assert await wait_exit(process, master, limit=20) == 0
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
