"""Subgraphs (a graph file as a node type) and --set overrides."""

from __future__ import annotations

from pathlib import Path

from support import FIXTURES

from rlgraph.core import build, check_graph, read_graph
from rlgraph.core.overrides import apply_overrides

SUB = FIXTURES / "subgraphs"


def checked(name: str, registry, overrides=()):
    spec, errors = read_graph(SUB / name)
    assert spec is not None
    errors += apply_overrides(spec, overrides)
    result = check_graph(spec, registry)
    return result, errors + result.errors


def test_subgraph_nodes_get_nested_names_and_run(toy_registry):
    graph, errors = checked("two_learners.yaml", toy_registry)
    assert errors == []
    assert list(graph.spec.nodes) == ["count", "a.acc", "a.gain", "b.acc", "b.gain", "out"]
    g = build(graph)
    g.run(4)
    # a.acc totals 0,1,3,6 -> b.acc totals 0,1,4,10 -> b.gain x3
    assert [v for _, v in g.nodes["out"].seen] == [0.0, 3.0, 12.0, 30.0]
    assert g.nodes["a.gain"].factor == 2.0 and g.nodes["b.gain"].factor == 3.0
    assert g.seeds["a.gain"] != g.seeds["b.gain"]


def test_nested_subgraphs_forward_their_interface(toy_registry):
    graph, errors = checked("nested.yaml", toy_registry)
    assert errors == []
    assert "w.inner.gain" in graph.spec.nodes
    g = build(graph)
    g.run(3)
    assert [v for _, v in g.nodes["out"].seen] == [10.0, 30.0, 60.0]


def test_subgraph_file_validates_on_its_own(toy_registry):
    _, errors = checked("learner.yaml", toy_registry)
    assert errors == []  # acc.x is fed from outside: not "unconnected"


def test_mistakes_in_using_a_subgraph_are_located(toy_registry):
    _, errors = checked("bad_use.yaml", toy_registry)
    texts = sorted(e.format() for e in errors)
    assert len(errors) == 4, texts
    by_line = {e.loc.line: e for e in errors}
    assert "triggers cannot be set on a subgraph node" in by_line[3].message
    assert "has no param 'facter'" in by_line[6].message
    assert by_line[6].hint.startswith("did you mean 'factor'")
    assert "has no input 'xx'" in by_line[7].message and by_line[7].port == "xx"
    assert "no such subgraph file" in by_line[9].message and by_line[9].node == "b"


def test_subgraph_including_itself_is_an_error(toy_registry):
    _, errors = checked("self_include.yaml", toy_registry)
    assert any("includes itself" in e.message for e in errors)


def test_errors_inside_a_subgraph_point_into_its_file_with_nested_names(toy_registry):
    _, errors = checked("uses_broken.yaml", toy_registry)
    texts = [e.format() for e in errors]
    missing_factor = [e for e in errors if "missing required param 'factor'" in e.message]
    assert missing_factor and missing_factor[0].node == "inner.gain"
    assert missing_factor[0].loc.file.endswith("broken_inside.yaml"), texts
    _, own = checked("broken_inside.yaml", toy_registry)
    assert any("Accumulator has no output 'totl'" in e.message and e.loc.line == 5
               for e in own), [e.format() for e in own]


# ---- --set overrides -------------------------------------------------------------
def test_overrides_set_params_triggers_and_top_level(toy_registry):
    graph, errors = checked("two_learners.yaml", toy_registry, [
        "a.gain.factor=5", "b.factor=7", "count.every=2", "seed=9", "steps=40",
        "count.start=100"])
    assert errors == []
    spec = graph.spec
    assert spec.seed == 9 and spec.steps == 40
    assert spec.nodes["a.gain"].params["factor"] == 5.0
    assert spec.nodes["b.gain"].params["factor"] == 7.0
    assert spec.nodes["count"].triggers.every == 2
    g = build(graph)
    g.run(1)
    assert g.value("count.count") == 100


def test_override_mistakes_are_located_on_the_command_line(toy_registry):
    _, errors = checked("two_learners.yaml", toy_registry, [
        "a.gain.factr=5", "cont.start=1", "count.every=0", "justakey", "steps=0",
        "count.start="])
    by_text = {str(e.loc): e for e in errors}
    assert "did you mean 'factor'" in by_text["--set a.gain.factr=5"].hint
    assert by_text["--set a.gain.factr=5"].node == "a.gain"
    assert "did you mean 'count'" in by_text["--set cont.start=1"].hint
    assert "'every' must be an integer >= 1" in by_text["--set count.every=0"].message
    assert "not KEY=VALUE" in by_text["--set justakey"].message
    assert "'steps' must be an integer >= 1" in by_text["--set steps=0"].message
    assert "no value given" in by_text["--set count.start="].message
    assert len(errors) == 6


def test_override_null_sets_a_param_to_null():
    spec, _ = read_graph(Path(__file__).parent.parent / "graphs" / "dqn_target.yaml")
    assert apply_overrides(spec, ["optim.max_grad_norm=null"]) == []
    assert spec.nodes["optim"].params["max_grad_norm"] is None
    assert check_graph(spec).errors == []


def test_override_can_swap_a_node_type(toy_registry):
    _, errors = checked("two_learners.yaml", toy_registry, ["out.type=Accumulator"])
    assert any("Accumulator has no input 'aux'" in e.message for e in errors)


def test_resolved_yaml_of_an_expanded_graph_loads_and_runs_the_same(toy_registry):
    from rlgraph.core import parse_graph
    from rlgraph.core.dump import dump_spec
    graph, errors = checked("two_learners.yaml", toy_registry, ["b.factor=4", "seed=3"])
    assert errors == []
    original = build(graph)
    text = dump_spec(graph.spec, original.seeds)
    assert "b.gain:" in text and "factor: 4.0" in text and "b.gain=" in text
    spec, parse_errors = parse_graph(text, "resolved.yaml")
    again = check_graph(spec, toy_registry)
    assert parse_errors == [] and again.errors == []
    rebuilt = build(again)
    assert rebuilt.seeds == original.seeds
    original.run(5)
    rebuilt.run(5)
    assert rebuilt.nodes["out"].seen == original.nodes["out"].seen
