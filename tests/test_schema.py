"""The JSON Schema of graph files: shipped graphs conform, mistakes are flagged, and the
committed schema file is what `rlgraph schema` writes today."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from rlgraph.cli import main
from rlgraph.core import REGISTRY
from rlgraph.core.yamlsrc import load_yaml
from rlgraph.schema import graph_schema

ROOT = Path(__file__).parent.parent
GRAPHS = sorted((ROOT / "graphs").glob("**/*.yaml"))
SCHEMA_FILE = ROOT / "rlgraph.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    schema = graph_schema(REGISTRY)
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_there_are_shipped_graphs():
    assert len(GRAPHS) >= 5


@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.name)
def test_shipped_graph_conforms_and_names_the_schema(path, validator):
    text = path.read_text()
    # rlgraph's loader keeps keys as written (`on:` stays "on", as in YAML 1.2 editors)
    data, problems = load_yaml(text, str(path))
    assert problems == []
    errors = [e.message for e in validator.iter_errors(data)]
    assert errors == []
    assert text.splitlines()[0].startswith("# yaml-language-server: $schema=")


def test_schema_flags_misspelled_params_and_ports(validator):
    graph = {"nodes": {
        "c": {"type": "Adam", "params": {"learning_rate": 0.1},
              "in": {"los": "x.loss", "module": "y.module"}},
        "d": {"type": "Adam", "evry": 3, "in": {"loss": "x.loss", "module": "y.module"}},
    }}
    messages = " | ".join(e.message for e in validator.iter_errors(graph))
    assert "'learning_rate' was unexpected" in messages
    assert "'los' was unexpected" in messages
    assert "'evry' was unexpected" in messages


def test_schema_file_is_up_to_date(capsys, tmp_path):
    out = tmp_path / "schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads(SCHEMA_FILE.read_text()), \
        "regenerate it: rlgraph schema -o rlgraph.schema.json"


def test_nodes_json_lists_every_type(capsys):
    assert main(["nodes", "--json"]) == 0
    types = json.loads(capsys.readouterr().out)
    assert {t["name"] for t in types} == set(REGISTRY.names())
    for t in types:
        assert t["doc"], f"{t['name']} has no docstring"
        for port in [*t["inputs"].values(), *t["outputs"].values()]:
            assert port["doc"], f"{t['name']} has an undocumented port"
