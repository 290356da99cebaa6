"""Shared pytest setup: fixtures live in tests/fixtures/ (database, simulator)."""

pytest_plugins = ["tests.fixtures.db", "tests.fixtures.sim"]
