"""`node(id:)` can refetch every type implementing Node: the registry is listed in schema/node.py, built with the
schema, and filled by nothing else (no module registers itself when it is imported)."""

import pytest
from graphql import GraphQLObjectType

from schema import node
from schema.node import node_registry, registry_of
from schema.root import build_schema
from schema.users import User, load_user_node


def test_every_type_implementing_node_has_a_loader():
    # given the schema the server serves
    graphql_schema = build_schema()._schema

    # when we list the object types that implement Node
    implementers = {
        name
        for name, t in graphql_schema.type_map.items()
        if isinstance(t, GraphQLObjectType) and any(i.name == "Node" for i in t.interfaces)
    }

    # then the registry the schema was built with loads exactly those
    assert implementers, "the schema has no Node types"
    assert set(node_registry().by_name) == implementers


def test_the_registry_is_built_on_each_call_not_filled_by_imports():
    # when the schema is built twice
    first, second = node_registry(), node_registry()

    # then each build gets its own registry with the same entries, and the module keeps no dict for imports to fill
    assert first is not second and first.by_name == second.by_name
    assert [name for name, value in vars(node).items() if isinstance(value, dict) and not name.startswith("__")] == []


def test_a_type_listed_twice_is_refused():
    with pytest.raises(ValueError, match="User is listed twice"):
        registry_of(((User, load_user_node), (User, load_user_node)))
