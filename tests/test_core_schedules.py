"""Schedules as parameter values: written in the file, checked at load, read by tick."""

from __future__ import annotations

import pytest

from rlgraph.core import GraphErrors, Node, NodeConfigError, Param, build, check_graph, parse_graph
from rlgraph.core.node import Clock
from rlgraph.core.schedules import Schedule


class Scaled(Node):
    """Holds a scheduled rate (a learning rate's shape, without torch)."""

    params = {"rate": Param(float, 1.0, "a rate", low=0.0, low_open=True, schedule=True)}

    rate: Schedule

    def step(self) -> None:
        self.seen = self.rate.at(self.clock.tick)


def rate_at(value, ticks, total=1000):
    node = Scaled(rate=value, clock=Clock(total=total))
    return [node.rate.at(t) for t in ticks]


def test_shapes_by_hand():
    assert rate_at(0.5, [0, 10_000]) == [0.5, 0.5]
    # over the run: the graph's steps (1000 ticks here); held at the end
    assert rate_at({"linear": [1.0, 0.0]}, [0, 250, 1000, 5000]) == [1.0, 0.75, 0.0, 0.0]
    assert rate_at({"linear": [0.2, 0.1], "ticks": 100}, [0, 50, 100, 999]) == \
        pytest.approx([0.2, 0.15, 0.1, 0.1])
    e = 2.718281828459045
    assert rate_at({"exponential": [1.0, 0.0], "ticks": 10}, [0, 10, 20]) == \
        pytest.approx([1.0, 1 / e, 1 / e ** 2])
    assert rate_at({"piecewise": [[10, 1.0], [20, 0.5], [40, 0.1]]}, [0, 15, 30, 99]) == \
        pytest.approx([1.0, 0.75, 0.3, 0.1])


@pytest.mark.parametrize("value, problem", [
    ({"linear": [1.0]}, "'linear' needs [start, end]"),
    ({"linear": [1.0, -0.5]}, "schedule value must be >= 0.0, got -0.5"),
    ({"cosine": [1.0, 0.0]}, "unknown key 'cosine'"),
    ({"linear": [1.0, 0.0], "ticks": 0}, "'ticks' must be an integer >= 1"),
    ({"exponential": [1.0, 0.1]}, "needs 'ticks'"),
    ({"piecewise": [[10, 1.0], [5, 0.5]]}, "piecewise ticks must increase"),
    (0.0, "must be > 0.0, got 0.0"),  # a constant still may not sit on the open bound
])
def test_bad_schedules_say_what_is_wrong(value, problem):
    with pytest.raises(NodeConfigError, match="param 'rate'") as info:
        Scaled(rate=value, clock=Clock(total=100))
    assert problem in info.value.message


def test_a_schedule_over_the_run_needs_the_run_length():
    with pytest.raises(NodeConfigError, match="needs the graph's 'steps'") as info:
        Scaled(rate={"linear": [1.0, 0.0]})
    assert "ticks: N" in info.value.hint


def test_schedules_are_checked_at_load_located_and_follow_the_steps(toy_registry):
    toy_registry.add(Scaled)
    text = "steps: 400\nnodes:\n  s: {type: Scaled, params: {rate: {linear: [1.0, 2]}}}\n"
    spec, _ = parse_graph(text.replace("[1.0, 2]", "[1.0, -2]"), "s.yaml")
    [error] = check_graph(spec, toy_registry).errors
    assert (error.node, error.loc.line) == ("s", 3) and "schedule value" in error.message
    spec, _ = parse_graph(text, "s.yaml")
    graph = build(check_graph(spec, toy_registry))
    graph.run(201)
    assert graph.nodes["s"].seen == pytest.approx(1.5)  # halfway through 400 ticks
    spec, _ = parse_graph(text.replace("steps: 400\n", ""), "s.yaml")
    with pytest.raises(GraphErrors, match="needs the graph's 'steps'"):
        build(check_graph(spec, toy_registry))
