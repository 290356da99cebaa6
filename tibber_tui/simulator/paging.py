"""Relay-style paging the way Tibber does it: base64 ISO-timestamp cursors, ``first``/``after`` forwards,
``last``/``before`` backwards, silently capped page sizes."""

from __future__ import annotations

import base64
import binascii
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from graphql import GraphQLError


def encode_cursor(iso_text: str) -> str:
    """Base64 of the ISO timestamp, as Tibber's cursors are."""
    return base64.b64encode(iso_text.encode()).decode()


def decode_cursor(cursor: str, tz: ZoneInfo) -> tuple[float, bool]:
    """(epoch seconds, is a bare date) of a cursor; naive timestamps and dates are in the home's zone."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.b64decode(padded, validate=True).decode().strip()
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), tz).timestamp(), True
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise GraphQLError(f"invalid cursor {cursor!r}: expected base64 of an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.timestamp(), False


@dataclass(frozen=True, slots=True)
class Page:
    """A slice of a sorted sequence of slot starts (epoch seconds)."""

    starts: Sequence[int]
    has_previous: bool
    has_next: bool


def select_page(
    slots: Sequence[int],
    *,
    tz: ZoneInfo,
    cap: int,
    first: int | None,
    last: int | None,
    before: str | None,
    after: str | None,
) -> Page:
    """The page the arguments ask for; ``before`` is ignored with ``first`` and ``after`` with ``last``.

    ``after`` is exclusive for a timestamp (the node with that cursor is not repeated) and inclusive for a
    bare date (pyTibber pages forward from ``base64("YYYY-MM-DD")``). Without ``first`` and ``last`` the newest
    ``cap`` slots are returned.
    """
    if first is not None and last is not None:
        raise GraphQLError("`first` and `last` cannot be used together")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value < 0:
            raise GraphQLError(f"`{name}` must not be negative")
    if first is not None:
        size = min(first, cap)
        if after is None:
            start = 0
        else:
            moment, is_date = decode_cursor(after, tz)
            start = (bisect_left if is_date else bisect_right)(slots, moment)
        end = min(len(slots), start + size)
    else:
        size = min(cap if last is None else last, cap)
        end = len(slots) if before is None else bisect_left(slots, decode_cursor(before, tz)[0])
        start = max(0, end - size)
    start = min(start, end)
    return Page(slots[start:end], has_previous=start > 0, has_next=end < len(slots))
