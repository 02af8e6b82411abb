"""The acting path: which nodes evaluation runs between an env and its policy."""

from __future__ import annotations

from rlgraph.core import acting_path, check_graph, parse_graph

GRAPH = """
nodes:
  env: {type: Adder, in: {a: {from: pol.sum, delay: 1, init: 0}}}
  count: {type: Counter}
  pre: {type: Gain, params: {factor: 2}, in: {x: env.sum}}
  pol: {type: Adder, in: {a: pre.y, b: count.count}}
  log: {type: Accumulator, in: {x: pol.sum}}
"""


def path_of(text: str, toy_registry, env: str = "env"):
    spec, errors = parse_graph(text, "acting.yaml")
    checked = check_graph(spec, toy_registry)
    assert errors == [] and checked.errors == []
    return acting_path(spec, checked.classes, env, action_input="a", obs_output="sum")


def test_the_path_runs_from_the_env_through_preprocessing_to_the_policy(toy_registry):
    path = path_of(GRAPH, toy_registry)
    assert path.problems == []
    assert str(path.policy) == "pol.sum" and path.nodes == ["pre", "pol"]
    # inputs from off the path (count) have no value in evaluation; optional ones are None
    assert path.wires == {"pre": {"x": ("env", "sum")}, "pol": {"a": ("pre", "y")}}


def test_a_required_input_evaluation_cannot_feed_is_located(toy_registry):
    text = GRAPH.replace("pol: {type: Adder, in: {a: pre.y, b: count.count}}",
                         "pol: {type: Adder, in: {a: count.count, b: pre.y}}")
    path = path_of(text, toy_registry)
    [problem] = path.problems
    assert (problem.node, problem.port, problem.loc.line) == ("pol", "a", 6)
    assert "reads 'count.count', which has no value when the policy is evaluated" in \
        problem.message


def test_an_env_whose_action_comes_from_nowhere_on_its_path(toy_registry):
    text = GRAPH.replace("in: {a: {from: pol.sum, delay: 1, init: 0}}",
                         "in: {a: {from: count.count, delay: 1, init: 0}}")
    [problem] = path_of(text, toy_registry).problems
    assert "does not act on the env's 'sum' within a tick" in problem.message
    assert (problem.node, problem.port) == ("env", "a")
