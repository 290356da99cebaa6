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
