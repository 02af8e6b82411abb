"""The order of reads and writes of a module within a tick: checked, stated, drawn."""

from __future__ import annotations

import pytest

from rlgraph.core import GraphErrors, build, check_graph, parse_graph

UNORDERED = """
nodes:
  blob: {type: Blob, params: {size: 1}}
  one: {type: Counter, params: {start: 1}}
  train: {type: Trainer, in: {module: blob.module, x: one.count}}
  act: {type: Reads, in: {module: blob.module}}
"""


def check(text: str, registry):
    spec, errors = parse_graph(text, "order.yaml")
    assert errors == [], [e.format() for e in errors]
    return check_graph(spec, registry)


def test_a_reader_and_a_writer_nothing_orders_is_an_error_at_the_reader(toy_registry):
    [error] = check(UNORDERED, toy_registry).errors
    assert (error.node, error.loc.line) == ("act", 6)
    assert "reads 'blob.module', which 'train' (Trainer) changes in the same tick, and " \
           "nothing in the graph orders the two; today 'train' runs first" in error.message
    assert error.hint == ("state it on 'act': order: {before: [train]} to use the module "
                          "before the change, or order: {after: [train]} to use the changed "
                          "one")


@pytest.mark.parametrize("order, seen", [("{before: [train]}", [1, 2, 4]),
                                         ("{after: [train]}", [2, 4, 7])])
def test_order_states_which_version_a_reader_sees(order, seen, toy_registry):
    """Before: the module as the last tick left it; after: as this tick's update left it.
    The file lists the trainer first either way."""
    text = UNORDERED.replace("in: {module: blob.module}}",
                             f"in: {{module: blob.module}}, order: {order}}}")
    checked = check(text, toy_registry)
    assert checked.errors == []
    graph = build(checked)
    sizes = []
    for _ in range(3):
        graph.step()
        sizes.append(graph.value("act.size"))
    assert sizes == seen


def test_order_names_are_checked_and_cycles_refused(toy_registry):
    text = UNORDERED.replace("in: {module: blob.module}}",
                             "in: {module: blob.module}, order: {after: [trian]}}")
    [error] = check(text, toy_registry).errors
    assert "'order: after' names 'trian', which is not a node" in error.message
    assert error.hint == "did you mean 'train'?" and error.loc.line == 6
    cycle = UNORDERED.replace(
        "in: {module: blob.module, x: one.count}}",
        "in: {module: blob.module, x: one.count}, order: {after: [act]}}").replace(
        "in: {module: blob.module}}", "in: {module: blob.module}, order: {after: [train]}}")
    [error] = check(cycle, toy_registry).errors
    assert "'order:' makes a cycle with the wires of the tick" in error.message
    with pytest.raises(GraphErrors, match="names the node itself"):
        spec, _ = parse_graph(UNORDERED.replace(
            "in: {module: blob.module}}", "in: {module: blob.module}, order: {after: act}}"),
            "order.yaml")
        build(check_graph(spec, toy_registry))


def test_ordering_against_a_node_in_a_burst_orders_against_the_whole_burst(toy_registry):
    """train runs three times per tick in the burst that 'one' repeats (adding 1, 2, 3,
    then 4, 5, 6); acting after it sees all three updates of a tick, never a part."""
    text = """
nodes:
  blob: {type: Blob, params: {size: 1}}
  act: {type: Reads, in: {module: blob.module}, order: {after: [train]}}
  one: {type: Counter, params: {start: 1}, repeat: 3}
  train: {type: Trainer, in: {module: blob.module, x: one.count}}
"""
    checked = check(text, toy_registry)
    assert checked.errors == []
    graph = build(checked)
    assert graph.tick_order == ["one", "train", "act"]
    graph.run(2)
    assert graph.value("act.size") == 1 + (1 + 2 + 3) + (4 + 5 + 6)


def test_order_after_a_subgraph_node_means_after_all_of_its_nodes():
    from support import FIXTURES

    from rlgraph.core import load
    from rlgraph.core.dump import dump_spec
    from rlgraph.core.schedule import tick_order

    checked = load(FIXTURES.parent.parent / "graphs" / "two_dqn.yaml")
    order = tick_order(checked.spec, checked.classes)
    learner_a = [i for i, name in enumerate(order) if name.startswith("a.")]
    assert order.index("policy") > max(learner_a)
    assert order.index("a.target") < order.index("a.sample")  # the lib file's own order
    # the resolved graph a run writes keeps the constraints (nested names), and means
    # the same order when it is loaded again
    text = dump_spec(checked.spec)
    assert "before: [a.sample]" in text and "after: [a]" in text
    spec, errors = parse_graph(text, "resolved.yaml")
    again = check_graph(spec)
    assert errors == [] and again.errors == []
    assert tick_order(again.spec, again.classes) == order
