"""Typing helpers shared by the db modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    AnyConnection: TypeAlias = asyncpg.Connection | PoolConnectionProxy[Any]
    """A plain connection or one borrowed from a pool: both run the same queries."""
else:
    AnyConnection: TypeAlias = asyncpg.Connection
