"""Masking of secrets for anything a person or a log may see."""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<prefix>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<at>@)", re.I)


def mask_token(token: str) -> str:
    """Show only the last 4 characters of a Tibber token: ``…7BE1``."""
    if len(token) <= 8:
        return "…" + "*" * min(len(token), 4)
    return "…" + token[-4:]


def mask_url(url: str) -> str:
    """Hide the password of a database URL."""
    return _URL_PASSWORD.sub(lambda m: f"{m['prefix']}****{m['at']}", url)


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Replace every known secret in ``text`` with its masked form, and mask URL passwords."""
    for secret in secrets:
        if secret and len(secret) > 4:
            text = text.replace(secret, mask_token(secret))
    return mask_url(text)


MIN_TOKEN_LENGTH = 20
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_\-.]+$")


def token_problem(value: str) -> str | None:
    """Why ``value`` cannot be a Tibber token, or None when it looks like one.

    Personal tokens are 43+ characters of base64url or hex with a ``-1`` suffix; OAuth tokens are longer JWTs.
    This catches what a person gets wrong when pasting (nothing, a fragment, spaces), not whether Tibber accepts it.
    """
    value = value.strip()
    if not value:
        return "paste a token from developer.tibber.com"
    if len(value) < MIN_TOKEN_LENGTH:
        return f"too short for a Tibber token (at least {MIN_TOKEN_LENGTH} characters)"
    if not _TOKEN_CHARS.match(value):
        return "letters, digits, '-', '_' and '.' only, no spaces"
    return None
