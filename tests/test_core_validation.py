"""Every class of user mistake in a graph file gives a located, hinted GraphError."""

from __future__ import annotations

import pytest
from support import FIXTURES

from rlgraph.core import check_graph, parse_graph, read_graph

INVALID = FIXTURES / "invalid"

# file -> list of (line, node, port, words the message or hint must contain)
CASES = {
    "malformed_yaml": [(4, None, None, ["malformed YAML", "line 3", "expected ',' or '}'"])],
    "empty": [(1, None, None, ["the file is empty"])],
    "top_level_list": [(1, None, None, ["top level must be a mapping", "got a list"])],
    "unknown_top_key": [(2, None, None, ["unknown top-level key 'sead'", "did you mean 'seed'"])],
    "bad_node_name": [(2, "my-counter", None, ["invalid node name"])],
    "missing_type": [(2, "c", None, ["has no 'type:'", "rlgraph nodes"])],
    "unknown_node_key": [(4, "c", None, ["unknown key 'evry'", "did you mean 'every'"])],
    "unknown_type": [(3, "c", None, ["unknown node type 'Countr'", "did you mean 'Counter'"])],
    "bad_import": [(3, "c", None, ["cannot import module 'no_such_module_xyz'",
                                   "No module named 'no_such_module_xyz'"])],
    "unknown_param": [(5, "c", None, ["no param 'strat'", "did you mean 'start'"])],
    "wrong_param_type": [(5, "c", None, ["param 'start' must be integer, got string 'five'"])],
    "param_range": [(4, "c", None, ["param 'increment' must be >= 1, got 0"])],
    "missing_param": [(3, "g", None, ["missing required param 'factor'"])],
    "unknown_input": [(6, "acc", "xx", ["has no input 'xx'", "did you mean 'x'"])],
    "unknown_output": [(6, "acc", "x", ["has no output 'cont'", "did you mean 'count'"])],
    "missing_node": [(6, "acc", "x", ["node 'countr' that does not exist",
                                      "did you mean 'counter'"])],
    "bad_ref": [(5, "acc", "x", ["must name an output as 'node.port'"])],
    "required_unconnected": [(3, "acc", "x", ["required input 'x' (scalar) is not connected",
                                              "x: c.count"])],
    "kind_mismatch": [(8, "add", "b", ["output 'tick.event' is event",
                                       "input 'add.b' expects scalar"])],
    "static_stream_mismatch": [(5, "rec", "x", ["'blob.module' is static",
                                                "expects a per-tick stream"])],
    "cycle": [(7, "first", "b", ["cycle of stream wires without a delay",
                                 "first.sum -> second.a   (line 11)",
                                 "second.sum -> first.b   (line 7)",
                                 "b: {from: second.sum, delay: 1}"])],
    "build_cycle": [(4, "b1", "parent", ["build cycle through static wires",
                                         "b1.module -> b2.parent   (line 7)"])],
    "delayed_static": [(6, "b2", "parent", ["cannot be delayed"])],
    "bad_delay": [(7, "add", "b", ["'delay' must be an integer >= 1, got integer 0"]),
                  (11, "add2", "a", ["'delay' must be an integer >= 1, got number 1.5"])],
    "init_without_delay": [(6, "add", "a", ["'init' only applies to a delayed wire"])],
    "bad_triggers": [(4, "c", None, ["'every' must be an integer >= 1, got integer 0"]),
                     (7, "d", None, ["'after' must be an integer >= 0, got integer -5"]),
                     (11, "e", None, ["'until' (50) must be greater than 'after' (100)"]),
                     (14, "f", None, ["'every' must be an integer >= 1, got string 'often'"])],
    "duplicate_key": [(6, None, None, ["duplicate key 'c'", "first defined at line 2"])],
    "role_mismatch": [(9, "wrong", "q", ["module role mismatch: 'copy_critic.module' is a "
                                         "'critic' module", "takes a 'q' module",
                                         "of that role in this graph: q.module, "
                                         "copy_q.module"])],
    "many_errors": [(5, "c", None, ["no param 'strat'"]),
                    (8, "acc", "x", ["no output 'cont'"]),
                    (10, "g", None, ["unknown node type 'Gian'", "did you mean 'Gain'"])],
}


def problems(name: str, registry):
    path = INVALID / f"{name}.yaml"
    spec, errors = read_graph(path)
    if spec is not None:
        errors = errors + check_graph(spec, registry).errors
    return sorted(errors, key=lambda e: (e.loc.line, e.loc.col))


def test_every_fixture_has_a_case():
    assert {p.stem for p in INVALID.glob("*.yaml")} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_invalid_graph_reports_located_error(name, toy_registry):
    errors = problems(name, toy_registry)
    expected = CASES[name]
    assert len(errors) == len(expected), "\n".join(e.format() for e in errors)
    for error, (line, node, port, words) in zip(errors, expected):
        text = error.format()
        assert error.loc.file.endswith(f"{name}.yaml")
        assert error.loc.line == line, text
        assert error.loc.col >= 1
        assert text.startswith(f"{error.loc.file}:{line}:{error.loc.col}: error: ")
        assert error.node == node, text
        assert error.port == port, text
        for word in words:
            assert word in text
        if node:
            assert f"node '{node}'" in text


def test_every_error_carries_a_hint_or_names_the_fix(toy_registry):
    for name in CASES:
        for error in problems(name, toy_registry):
            assert error.hint or "must be" in error.message or "duplicate" in error.message, \
                error.format()


def test_missing_file_is_an_error_not_a_traceback():
    spec, errors = read_graph(INVALID / "no_such_file.yaml")
    assert spec is None
    assert "no such file" in errors[0].format()


def test_valid_graph_has_no_errors(toy_registry):
    spec, errors = read_graph(FIXTURES / "valid" / "feedback.yaml")
    checked = check_graph(spec, toy_registry)
    assert errors == [] and checked.errors == []


def test_unconnected_optional_input_that_matters_is_a_located_warning(toy_registry):
    spec, _ = read_graph(FIXTURES / "valid" / "feedback.yaml")
    warnings = check_graph(spec, toy_registry).warnings
    texts = [w.format() for w in warnings]
    assert any("warning: node 'rec', port 'aux': optional input 'aux' is not connected" in t
               for t in texts), texts
    assert all(w.loc.line > 0 for w in warnings)


def test_unused_output_that_matters_is_a_warning(toy_registry):
    spec, _ = parse_graph("nodes:\n  c: {type: Counter}\n  acc: {type: Accumulator, "
                          "in: {x: c.count}}\n", "w.yaml")
    warnings = check_graph(spec, toy_registry).warnings
    assert [(w.node, w.port, w.loc.line) for w in warnings] == [("acc", "total", 3)]


def test_delayed_wire_out_of_a_repeated_part_is_a_located_warning(toy_registry):
    """A delay carries one value per tick: fed from inside a `repeat`, it would deliver
    only the last repetition's value (e.g. TD errors fed back to a prioritized buffer)."""
    text = ("nodes:\n"
            "  c: {type: Counter, repeat: 3}\n"
            "  g: {type: Gain, params: {factor: 2}, in: {x: c.count}}\n"
            "  other: {type: Counter}\n"
            "  a:\n"
            "    type: Adder\n"
            "    in: {a: other.count, b: {from: g.y, delay: 1}}\n")
    spec, _ = parse_graph(text, "r.yaml")
    checked = check_graph(spec, toy_registry)
    assert checked.errors == []
    [warning] = checked.warnings
    assert (warning.node, warning.port, warning.loc.line) == ("a", "b", 7)
    assert "delayed wire from 'g.y', which 'c' repeats 3 times per tick" in warning.format()
    assert "only the last repetition's value arrives" in warning.format()
    assert "'every: k' instead of 'repeat: 3'" in warning.format()
    spec, _ = parse_graph(text.replace("repeat: 3", "every: 3"), "r.yaml")
    assert check_graph(spec, toy_registry).warnings == []
