"""Dashboard benchmark: start-up time to first paint, and CPU use over an idle minute with 10 streaming homes.

The dashboard runs as a real process in a pseudo-terminal (80x24), exactly as a user starts it
(``python -m tibber_tui.cli``), against the simulator (one token, 10 realtime homes) and a PostgreSQL database.
Two set-ups are measured:

* ``tui``: ``tibber-tui`` collecting in its own workers (dashboard + collector in one process);
* ``observe``: ``tibber-tui --observe`` next to a headless collector process (the dashboard's own cost).

CPU is the process's user+system time from ``/proc/<pid>/stat`` over the window, as % of one core.
First paint = from spawning the process until the terminal shows the dashboard's status line.

    uv run python bench/bench_dashboard.py [--seconds 60] [--frame-interval 2] [--database-url URL]

Without ``--database-url`` it uses ``DATABASE_URL`` or ``postgresql://postgres@127.0.0.1:5432/test`` and creates
(and drops) a database of its own there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tibber_tui.db.connection import connect
from tibber_tui.db.migrations import migrate
from tibber_tui.simulator import SimConfig
from tibber_tui.simulator.thread import run_in_thread

TOKEN = "BENCH-DASHBOARD-TOKEN-000000000000000000000000000000000010"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Terminal:
    """A child process on a pty whose output is drained (and searched) by a thread."""

    process: subprocess.Popen[bytes]
    master: int
    started: float
    output: bytearray = field(default_factory=bytearray)
    first_seen: dict[bytes, float] = field(default_factory=dict)
    watch: tuple[bytes, ...] = ()
    closed: bool = False

    def drain(self) -> None:
        while not self.closed:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output.extend(chunk)
            del self.output[: max(0, len(self.output) - 200_000)]
            for needle in self.watch:
                if needle not in self.first_seen and needle in self.output:
                    self.first_seen[needle] = time.monotonic() - self.started

    def wait_for(self, needle: bytes, limit: float) -> float:
        deadline = time.monotonic() + limit
        while needle not in self.first_seen:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"gave up waiting for {needle!r} on the dashboard's screen")
            time.sleep(0.02)
        return self.first_seen[needle]


def _controlling_terminal() -> None:
    """In the child: make the pty its controlling terminal, as under sshd, so closing the master hangs it up."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def spawn_dashboard(args: list[str], env: dict[str, str], watch: tuple[bytes, ...]) -> Terminal:
    master, slave = pty.openpty()
    os.set_blocking(master, True)
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "tibber_tui.cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
        preexec_fn=_controlling_terminal,
        close_fds=True,
    )
    os.close(slave)
    terminal = Terminal(process, master, started, watch=watch)
    threading.Thread(target=terminal.drain, daemon=True).start()
    return terminal


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def create_database(admin_dsn: str) -> str:
    name = f"tibber_bench_dashboard_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    parts = urlsplit(admin_dsn)
    dsn = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    conn = await connect(dsn)
    try:
        await migrate(conn)
        await conn.execute("INSERT INTO tibber.tibber_tokens (token, label) VALUES ($1, 'bench: 10 homes')", TOKEN)
    finally:
        await conn.close()
    return dsn


async def wait_for_lease(dsn: str, limit: float = 60.0) -> None:
    """Until the headless collector holds the bench token's lease."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + limit
        while not await conn.fetchval("SELECT count(*) FROM tibber.token_leases WHERE expires_at > now()"):
            if time.monotonic() > deadline:
                raise SystemExit("the headless collector did not take the token")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def drop_database(admin_dsn: str, dsn: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(dsn).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await admin.close()


def measure(label: str, args: list[str], env: dict[str, str], seconds: float, ready: bytes) -> None:
    terminal = spawn_dashboard(args, env, watch=(b"tibber-tui", ready))
    try:
        first_paint = terminal.wait_for(b"tibber-tui", 30)
        data_seen = terminal.wait_for(ready, 60)
        time.sleep(5)  # let the backfill of history and prices settle: we measure the idle dashboard
        before, t0 = cpu_seconds(terminal.process.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = cpu_seconds(terminal.process.pid) - before, time.monotonic() - t0
        seen = f"'{ready.decode()}' on screen after {data_seen:.2f} s"
        print(f"[{label}] first paint: {first_paint:.2f} s after start; {seen}")
        print(
            f"[{label}] CPU over {elapsed:.0f} s idle with 10 streaming homes: {100 * used / elapsed:.1f} % of one core"
        )
    finally:
        terminal.closed = True
        time.sleep(0.3)  # let the drain thread leave select() before the descriptor goes
        os.close(terminal.master)  # the terminal disappears (SSH drop): the kernel sends SIGHUP
        t_hup = time.monotonic()
        try:
            code = terminal.process.wait(10)
            print(f"[{label}] exit after the terminal hung up: code {code} in {time.monotonic() - t_hup:.2f} s")
        except subprocess.TimeoutExpired:
            print(f"[{label}] did NOT exit within 10 s after the terminal hung up")
            stop(terminal.process, signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the idle CPU window")
    parser.add_argument("--frame-interval", type=float, default=2.0, help="seconds between live frames per home")
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--only", choices=["tui", "observe"], help="measure one set-up only")
    args = parser.parse_args()

    sim = run_in_thread(SimConfig(frame_interval=args.frame_interval, rate_limit=None), {TOKEN: 10})
    dsn = asyncio.run(create_database(args.database_url))
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "TIBBER_API_URL": sim.url,
        "TERM": "xterm-256color",
        "COLUMNS": "80",
        "LINES": "24",
    }
    env["TIBBER_TUI_HISTORY_LIMIT_DAYS"] = "7"  # a short backfill, so the minute measured is the idle one
    env["TIBBER_TUI_PRICE_HISTORY_DAYS"] = "2"
    try:
        if args.only in (None, "tui"):
            measure("tui", [], env, args.seconds, b"collecting")
        if args.only in (None, "observe"):
            headless = subprocess.Popen(
                [sys.executable, "-m", "tibber_tui.cli", "--no-ui"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                asyncio.run(wait_for_lease(dsn))  # first paint of the observer alone, not of two starting processes
                measure("observe", ["--observe"], env, args.seconds, b"collected by another")
            finally:
                stop(headless)
    finally:
        asyncio.run(drop_database(args.database_url, dsn))
        sim.stop()


if __name__ == "__main__":
    main()
