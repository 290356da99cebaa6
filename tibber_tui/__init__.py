"""tibber-tui: Tibber energy data into PostgreSQL, with a Textual dashboard."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tibber-tui")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
