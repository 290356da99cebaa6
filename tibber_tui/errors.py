"""The root of the errors a user may see, and how an unexpected one becomes one clear line."""

from __future__ import annotations

from tibber_tui.secrets import mask_url


class TibberTuiError(Exception):
    """Base for errors whose message is written for the user (one line, says what to do)."""


def describe(exc: BaseException) -> str:
    """One line for any exception, secrets masked; known errors keep their own message."""
    if isinstance(exc, TibberTuiError):
        return mask_url(str(exc))
    text = mask_url(str(exc)) or type(exc).__name__
    return f"unexpected error: {type(exc).__name__}: {text} (run with --debug for the traceback)"
