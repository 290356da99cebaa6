"""Every GraphQL document the client can send is valid against the REAL Tibber schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from tibber_tui.tibber import queries
from tibber_tui.tibber.queries import HistoryShape

SCHEMA_FILE = Path(__file__).resolve().parents[2].parent / "shared" / "tibber-api" / "schema" / "tibber-schema.graphql"


def all_documents() -> dict[str, str]:
    """Every shape of document ``TibberClient``/``LiveStream`` build."""
    documents = {"homes": queries.HOMES_QUERY, "live": queries.LIVE_SUBSCRIPTION}
    for count in (1, 3):
        documents[f"prices x{count}"] = queries.prices_query(count)
        for with_before in (False, True):
            documents[f"price_range x{count} before={with_before}"] = queries.price_range_query(
                count, with_before=with_before
            )
    shapes = [HistoryShape(with_before=b, production=p) for b in (False, True) for p in (False, True)]
    for shape in shapes:
        documents[f"history {shape}"] = queries.history_query([shape])
    documents["history mixed"] = queries.history_query(shapes)
    return documents


@pytest.fixture(scope="module")
def real_schema() -> GraphQLSchema:
    if not SCHEMA_FILE.parent.is_dir():
        pytest.skip(f"the real Tibber schema folder {SCHEMA_FILE.parent} is not present")
    return build_schema(SCHEMA_FILE.read_text())


@pytest.mark.parametrize("name", sorted(all_documents()))
def test_document_is_valid_against_real_schema(real_schema: GraphQLSchema, name: str) -> None:
    document = parse(all_documents()[name])
    errors = validate(real_schema, document)
    assert errors == [], f"{name}: {[e.message for e in errors]}"


def test_validation_really_rejects_a_wrong_field(real_schema: GraphQLSchema) -> None:
    """Guard against a validator that accepts anything."""
    broken = queries.history_query([HistoryShape(False, True)]).replace("productionUnit", "productionUnits")
    assert validate(real_schema, parse(broken))


def test_batched_documents_use_one_alias_per_home() -> None:
    document = queries.history_query([HistoryShape(True, True), HistoryShape(False, False), HistoryShape(True, False)])
    assert document.count("home(id:") == 3
    assert document.count("consumption(") == 3
    assert document.count("production(") == 1
    assert "h2: home(id: $h2)" in document
