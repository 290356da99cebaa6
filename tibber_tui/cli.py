"""Command line: ``tibber-tui [--no-ui|--observe] | demo | simulate | tokens ... | migrate | status``.

Every handler is imported lazily so that ``tibber-tui tokens list`` never loads Textual, and every error a
user can cause ends in one clear line on stderr (tracebacks only with ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tibber_tui import __version__
from tibber_tui.config import Config, ConfigError, load_config
from tibber_tui.errors import TibberTuiError
from tibber_tui.secrets import mask_token


class UserError(TibberTuiError):
    """An error the user can fix; printed as one line, exit code 2 unless given."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _add_common(parser: argparse.ArgumentParser, *, top_level: bool = False) -> None:
    """The options every command takes, before or after the command name.

    On subcommands the defaults are suppressed, so ``tibber-tui --database-url X status`` keeps X instead
    of the subcommand's default overwriting it.
    """
    default = None if top_level else argparse.SUPPRESS
    parser.add_argument(
        "--database-url", default=default, help="PostgreSQL URL (default: DATABASE_URL, else the embedded server)"
    )
    parser.add_argument(
        "--api-url", default=default, help="Tibber GraphQL endpoint (default: TIBBER_API_URL or the real API)"
    )
    parser.add_argument("--data-dir", default=default, help="folder of the embedded PostgreSQL server")
    parser.add_argument("--config", dest="config_file", default=default, help="TOML configuration file")
    parser.add_argument("--log-format", choices=["human", "json"], default=default, help="headless log format")
    parser.add_argument(
        "--debug", action="store_true", default=None if top_level else argparse.SUPPRESS, help="show tracebacks"
    )


def token_id(value: str) -> int:
    """A token's id; what was typed is echoed masked, since pasting the token itself is an easy slip."""
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected the token's id (see `tibber-tui tokens list`), not {mask_token(value)!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tibber-tui",
        description="Load Tibber energy data into PostgreSQL and watch it in a terminal dashboard.",
    )
    parser.add_argument("--version", action="version", version=f"tibber-tui {__version__}")
    _add_common(parser, top_level=True)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--no-ui", action="store_true", help="run the collector headless (logs to stderr)")
    mode.add_argument("--observe", action="store_true", help="dashboard only; never collect")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="embedded database + simulator + demo tokens, then the dashboard")
    _add_common(demo)
    demo.add_argument("--no-ui", action="store_true", default=argparse.SUPPRESS, help="run the demo headless")
    demo.add_argument("--frame-interval", type=float, default=2.0, help="seconds between simulated live frames")

    sim = sub.add_parser("simulate", help="run the Tibber API simulator")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--tokens", type=int, default=2, help="number of generated tokens")
    sim.add_argument("--homes", type=int, default=2, help="homes per generated token")
    sim.add_argument("--sim-config", help="TOML/JSON file naming tokens and their homes")
    sim.add_argument("--frame-interval", type=float, default=2.0, help="seconds between live frames")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--no-rate-limit", action="store_true", help="disable the per-IP request limit")

    tokens = sub.add_parser("tokens", help="manage Tibber API tokens")
    _add_common(tokens)
    tsub = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    add = tsub.add_parser("add", help="add a token")
    add.add_argument("token")
    add.add_argument("--label")
    add.add_argument("--inactive", action="store_true", help="add it inactive")
    _add_common(add)
    _add_common(tsub.add_parser("list", help="list tokens (masked)"))
    for name, text in (("activate", "start collecting"), ("deactivate", "stop collecting"), ("remove", "delete")):
        p = tsub.add_parser(name, help=f"{text} a token")
        p.add_argument("id", type=token_id)
        _add_common(p)

    migrate = sub.add_parser("migrate", help="apply pending database migrations")
    _add_common(migrate)
    migrate.add_argument("--create-database", action="store_true", help="create the database if missing")

    status = sub.add_parser("status", help="show tokens, homes, loaders and instances")
    _add_common(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    overrides = {
        "database_url": getattr(args, "database_url", None),
        "api_url": getattr(args, "api_url", None),
        "data_dir": getattr(args, "data_dir", None),
        "log_format": getattr(args, "log_format", None),
        "debug": getattr(args, "debug", None),
    }
    from pathlib import Path

    config_file = getattr(args, "config_file", None)
    return load_config(overrides, config_file=Path(config_file) if config_file else None)


def _handler(args: argparse.Namespace) -> Callable[[argparse.Namespace, Config], int]:
    command = args.command
    if command == "tokens":
        from tibber_tui.db.commands import tokens_command

        return tokens_command
    if command == "migrate":
        from tibber_tui.db.commands import migrate_command

        return migrate_command
    if command == "status":
        from tibber_tui.db.commands import status_command

        return status_command
    if command == "simulate":
        from tibber_tui.simulator.command import simulate_command

        return simulate_command
    if command == "demo":
        from tibber_tui.demo import demo_command

        return demo_command
    if args.no_ui:
        from tibber_tui.headless import headless_command

        return headless_command
    from tibber_tui.ui.command import dashboard_command

    return dashboard_command


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        config = config_from_args(args)
        debug = config.debug
        return _handler(args)(args, config)
    except KeyboardInterrupt:
        return 130
    except (UserError, ConfigError) as exc:
        if debug:
            raise
        print(f"tibber-tui: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except Exception as exc:
        if debug:
            raise
        from tibber_tui.errors import describe

        message = describe(exc)
        print(f"tibber-tui: {message}", file=sys.stderr)
        return 1


def run() -> Any:
    sys.exit(main())


if __name__ == "__main__":
    run()
