"""The simulator's schema is a subset of Tibber's real schema: same names, same types, same arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)

from tibber_tui.simulator.executor import schema_sdl, sim_schema

REAL_SCHEMA = Path(__file__).resolve().parents[2].parent / "shared" / "tibber-api" / "schema" / "tibber-schema.graphql"


@pytest.fixture(scope="module")
def real_schema() -> GraphQLSchema:
    if not REAL_SCHEMA.is_file():
        pytest.skip(f"real Tibber schema not found at {REAL_SCHEMA}")
    return build_schema(REAL_SCHEMA.read_text(encoding="utf-8"))


def subset_problems(ours: GraphQLSchema, real: GraphQLSchema) -> list[str]:
    """Every way ``ours`` is not a subset of ``real`` (empty when it is)."""
    problems: list[str] = []
    for root in ("query_type", "mutation_type", "subscription_type"):
        mine, theirs = getattr(ours, root), getattr(real, root)
        if mine is not None and (theirs is None or mine.name != theirs.name):
            problems.append(f"root {root}: {mine.name} is not the real one")
    for name, mine in ours.type_map.items():
        if name.startswith("__"):
            continue
        theirs = real.type_map.get(name)
        if theirs is None:
            problems.append(f"type {name} does not exist in the real schema")
            continue
        if type(mine) is not type(theirs):
            problems.append(f"type {name}: {type(mine).__name__} vs real {type(theirs).__name__}")
            continue
        if isinstance(mine, GraphQLEnumType):
            assert isinstance(theirs, GraphQLEnumType)
            extra = set(mine.values) - set(theirs.values)
            if extra:
                problems.append(f"enum {name}: values {sorted(extra)} are not real")
        if isinstance(mine, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(theirs, GraphQLObjectType | GraphQLInterfaceType)
            for iface in mine.interfaces:
                if iface.name not in {i.name for i in theirs.interfaces}:
                    problems.append(f"type {name}: does not implement {iface.name} in the real schema")
        if isinstance(mine, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in mine.fields.items():
                real_field = theirs.fields.get(field_name)  # type: ignore[union-attr]
                if real_field is None:
                    problems.append(f"{name}.{field_name} does not exist in the real schema")
                    continue
                if str(field.type) != str(real_field.type):
                    problems.append(f"{name}.{field_name}: {field.type} vs real {real_field.type}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    real_arg = real_field.args.get(arg_name)  # type: ignore[union-attr]
                    if real_arg is None:
                        problems.append(f"{name}.{field_name}({arg_name}) does not exist in the real schema")
                    elif str(arg.type) != str(real_arg.type) or arg.default_value != real_arg.default_value:
                        problems.append(f"{name}.{field_name}({arg_name}): type or default differs")
    return problems


def test_simulator_schema_is_a_subset_of_the_real_one(real_schema: GraphQLSchema) -> None:
    assert subset_problems(sim_schema(), real_schema) == []


def test_subset_check_catches_a_wrong_type(real_schema: GraphQLSchema) -> None:
    """The checker itself can fail: a changed type, an invented field and an invented enum value are caught."""
    broken = (
        schema_sdl()
        .replace("  timeZone: String!", "  timeZone: String\n  invented: Int")
        .replace("  HOURLY\n  QUARTER_HOURLY\n}", "  HOURLY\n  QUARTER_HOURLY\n  MINUTELY\n}")
    )
    problems = subset_problems(build_schema(broken), real_schema)
    assert "Home.timeZone: String vs real String!" in problems
    assert "Home.invented does not exist in the real schema" in problems
    assert "enum PriceInfoResolution: values ['MINUTELY'] are not real" in problems


def test_schema_ships_as_package_data() -> None:
    sdl = schema_sdl()
    assert "type RootSubscription" in sdl
    assert "liveMeasurement(homeId: ID!)" in sdl
