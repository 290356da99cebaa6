"""Exiting cleanly when the terminal goes away (SSH drop: SIGHUP) or on SIGTERM, collector stopped first."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

from textual.app import App


class TerminalWatch(App[int]):
    """Mixin of the dashboard app: installs the signal handlers and a periodic check of the terminal."""

    _hung_up: bool = False

    async def stop_collector(self, grace: float = 6.0) -> None:
        """Stop the collector gracefully (provided by the app)."""
        raise NotImplementedError

    async def close_database(self) -> None:
        """Release the dashboard's own database pool (provided by the app)."""
        raise NotImplementedError

    async def action_quit(self) -> None:
        await self.stop_collector()
        self.exit(0)

    def _install_terminal_watchdog(self) -> None:
        """Exit cleanly when the SSH terminal disappears (SIGHUP, or the tty going away) and on SIGTERM."""
        loop = asyncio.get_running_loop()

        def hangup(signum: int, frame: object) -> None:
            # A plain signal handler, not loop.add_signal_handler: the kernel sends SIGCONT right after SIGHUP,
            # and Textual's own SIGCONT handler would restart terminal output on the dead tty before the loop
            # got to run our callback. Python runs pending handlers in signal-number order, SIGHUP first.
            self._detach_from_terminal()
            loop.call_soon_threadsafe(self._terminal_gone)

        def terminate(signum: int, frame: object) -> None:
            # systemd/kill: the terminal is still there, so leave the normal way (collector stopped first).
            loop.call_soon_threadsafe(lambda: self.run_worker(self.action_quit(), group="exit", exclusive=True))

        with contextlib.suppress(ValueError, OSError):  # not the main thread / no SIGHUP on this platform
            signal.signal(signal.SIGHUP, hangup)
            signal.signal(signal.SIGTERM, terminate)
        self.set_interval(2.0, self._check_terminal)

    def _check_terminal(self) -> None:
        # Textual draws on stderr; once that is no terminal any more (closed, revoked) nobody sees us.
        stream = sys.__stderr__
        try:
            gone = stream is None or not os.isatty(stream.fileno())
        except (OSError, ValueError):
            gone = True
        if gone:
            self._detach_from_terminal()
            self._terminal_gone()

    def _detach_from_terminal(self) -> None:
        """Point the terminal's descriptors at /dev/null: nothing can be drawn or restored any more."""
        if self._driver is not None and hasattr(self._driver, "_auto_restart"):
            self._driver._auto_restart = False  # no "resume" on the SIGCONT that follows a hang-up
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)

    def _terminal_gone(self) -> None:
        if not self._hung_up:
            self._hung_up = True
            self.run_worker(self._exit_after_hangup(), group="exit", exclusive=True)

    async def _exit_after_hangup(self) -> None:
        """Stop the collector gracefully (flush, close sockets, release leases), then leave at once.

        Textual's normal shutdown restores the terminal; with the terminal gone its writer thread can block for
        ever (seen with Textual 8.2 after SIGHUP), so after our own cleanup the process exits directly.
        """
        await self.stop_collector()
        await self.close_database()
        os._exit(0)
