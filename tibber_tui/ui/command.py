"""``tibber-tui`` and ``tibber-tui --observe``: resolve the database and run the dashboard."""

from __future__ import annotations

import argparse
import sys

from tibber_tui.config import Config
from tibber_tui.errors import TibberTuiError, describe
from tibber_tui.ui.app import make_app


def dashboard_command(args: argparse.Namespace, config: Config) -> int:
    """Open the dashboard (collecting, or only watching with ``--observe``); errors end in one line."""
    from tibber_tui.db.connection import resolve_dsn

    try:
        dsn = resolve_dsn(config)
    except TibberTuiError as exc:
        if config.debug:
            raise
        print(f"tibber-tui: {describe(exc)}", file=sys.stderr)
        return 1
    return run_dashboard(config, dsn, observe=bool(getattr(args, "observe", False)))


def run_dashboard(config: Config, dsn: str, *, observe: bool = False) -> int:
    """Run the dashboard in this terminal until the user quits or the terminal goes away."""
    app = make_app(config, dsn, observe=observe)
    result = app.run()
    return result if isinstance(result, int) else app.return_code or 0
