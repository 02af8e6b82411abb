"""The tick loop: order, delays, triggers, absent values, repeat, determinism, state."""

from __future__ import annotations

import pytest

from rlgraph.core import ABSENT, GraphErrors, build, check_graph, parse_graph


def make(text: str, registry, seed: int | None = None):
    spec, errors = parse_graph(text, "test.yaml")
    assert not errors, [e.format() for e in errors]
    checked = check_graph(spec, registry)
    assert not checked.errors, [e.format() for e in checked.errors]
    return build(checked, seed=seed)


def test_tick_order_is_topological_with_ties_in_yaml_order(toy_registry):
    g = make("""
nodes:
  rec: {type: Recorder, in: {x: add.sum}}
  add: {type: Adder, in: {a: c1.count, b: c2.count}}
  c2: {type: Counter}
  c1: {type: Counter}
  rec2: {type: Recorder, in: {x: c1.count}}
""", toy_registry)
    # c2 before c1 (file order), both before add, add before rec; rec2 after c1
    assert g.tick_order == ["c2", "c1", "add", "rec", "rec2"]
    g.run(3)
    assert g.nodes["rec"].seen == [(0, 0.0), (1, 2.0), (2, 4.0)]


def test_nodes_without_step_are_not_scheduled_but_built_first(toy_registry):
    g = make("""
nodes:
  use: {type: UsesBlob, in: {module: blob.module, x: c.count}}
  c: {type: Counter}
  blob: {type: Blob, params: {size: 5}}
""", toy_registry)
    assert "blob" not in g.tick_order
    assert g.build_order.index("blob") < g.build_order.index("use")
    g.run(3)
    assert g.value("use.y") == 10.0
    assert g.value("blob.module") == {"size": 5, "parent": None}


def test_delay_one_without_init_is_absent_on_first_tick(toy_registry):
    g = make("""
nodes:
  c: {type: Counter, params: {start: 10}}
  add: {type: Adder, in: {a: {from: c.count, delay: 1}}}
  rec: {type: Recorder, in: {x: add.sum}}
""", toy_registry)
    g.run(4)
    # tick 0: the delayed wire is absent, so add (required input) and rec skip
    assert g.nodes["rec"].seen == [(1, 10.0), (2, 11.0), (3, 12.0)]


def test_delay_with_init_and_longer_delay(toy_registry):
    g = make("""
nodes:
  c: {type: Counter, params: {start: 1}}
  rec1: {type: Recorder, in: {x: {from: c.count, delay: 1, init: -1}}}
  rec3: {type: Recorder, in: {x: {from: c.count, delay: 3, init: 0}}}
""", toy_registry)
    g.run(6)
    assert [v for _, v in g.nodes["rec1"].seen] == [-1, 1, 2, 3, 4, 5]
    assert [v for _, v in g.nodes["rec3"].seen] == [0, 0, 0, 1, 2, 3]


def test_feedback_loop_through_delay_accumulates(toy_registry):
    g = make("""
nodes:
  c: {type: Counter}
  add: {type: Adder, in: {a: c.count, b: {from: add.sum, delay: 1, init: 100}}}
""", toy_registry)
    g.run(4)
    assert g.value("add.sum") == 100 + 0 + 1 + 2 + 3


def test_every_after_until_triggers(toy_registry):
    g = make("""
nodes:
  c: {type: Counter}
  every3: {type: Recorder, every: 3, in: {x: c.count}}
  window: {type: Recorder, after: 4, until: 7, in: {x: c.count}}
  both: {type: Recorder, every: 2, after: 5, in: {x: c.count}}
""", toy_registry)
    g.run(12)
    assert [t for t, _ in g.nodes["every3"].seen] == [0, 3, 6, 9]
    assert [t for t, _ in g.nodes["window"].seen] == [4, 5, 6]
    assert [t for t, _ in g.nodes["both"].seen] == [6, 8, 10]


def test_skipped_node_outputs_are_absent_and_consumers_skip(toy_registry):
    g = make("""
nodes:
  c: {type: Counter}
  gate: {type: Adder, every: 4, in: {a: c.count}}
  rec: {type: Recorder, in: {x: gate.sum}}
""", toy_registry)
    g.run(2)
    assert g.value("gate.sum") is ABSENT  # tick 1: gate did not fire
    g.run(7)
    assert g.nodes["rec"].seen == [(0, 0.0), (4, 4.0), (8, 8.0)]


def test_absent_optional_input_arrives_as_none(toy_registry):
    g = make("""
nodes:
  c: {type: Counter, params: {start: 5}}
  held: {type: DelayLine, in: {x: c.count}}
  add: {type: Adder, in: {a: c.count, b: held.y}}
""", toy_registry)
    g.step()
    assert g.value("held.y") is ABSENT
    assert g.value("add.sum") == 5.0  # b absent -> None -> treated as 0
    g.step()
    assert g.value("add.sum") == 6.0 + 5.0


def test_on_trigger_counts_events(toy_registry):
    g = make("""
nodes:
  tick: {type: Ticker, params: {period: 2}}
  c: {type: Counter}
  rec: {type: Recorder, on: tick.event, in: {x: c.count}}
  second: {type: Recorder, on: tick.event, every: 2, in: {x: c.count}}
""", toy_registry)
    g.run(12)
    assert [t for t, _ in g.nodes["rec"].seen] == [2, 4, 6, 8, 10]
    # every 2 events: the 1st, 3rd and 5th event
    assert [t for t, _ in g.nodes["second"].seen] == [2, 6, 10]


def test_repeat_runs_the_cone_n_times_and_mixed_readers_once(toy_registry):
    g = make("""
nodes:
  tick: {type: Ticker, params: {period: 3}}
  c: {type: Counter, on: tick.event, repeat: 4}
  acc: {type: Accumulator, in: {x: c.count}}
  rec: {type: Recorder, in: {x: acc.total}}
  other: {type: Counter, params: {start: 1000}}
  mixed: {type: Adder, in: {a: acc.total, b: other.count}}
""", toy_registry)
    g.run(7)
    # ticks 3 and 6: the counter and its cone (acc, rec) run 4 times each
    assert [t for t, _ in g.nodes["rec"].seen] == [3] * 4 + [6] * 4
    assert [v for _, v in g.nodes["rec"].seen] == [0, 1, 3, 6, 10, 15, 21, 28]
    # mixed reads from the cone and from outside: once, with the last total
    assert g.value("mixed.sum") == 28 + 1006


def test_nested_repeat_is_an_error(toy_registry):
    spec, _ = parse_graph("""
nodes:
  c: {type: Counter, repeat: 2}
  acc: {type: Accumulator, repeat: 3, in: {x: c.count}}
""", "r.yaml")
    errors = check_graph(spec, toy_registry).errors
    assert len(errors) == 1
    assert errors[0].node == "acc" and errors[0].loc.line == 4
    assert "already repeats" in errors[0].message


def test_same_seed_same_run_and_seeds_recorded(toy_registry):
    text = """
seed: 11
nodes:
  c: {type: Counter}
  add: {type: Adder, in: {a: c.count, b: {from: add.sum, delay: 1}}}
"""
    a, b = make(text, toy_registry), make(text, toy_registry)
    assert a.seeds == b.seeds
    assert a.nodes["c"].seed == a.seeds["c"] != a.seeds["add"]
    other = make(text, toy_registry, seed=12)
    assert other.seeds["c"] != a.seeds["c"]
    a.run(50)
    b.run(50)
    assert a.value("add.sum") == b.value("add.sum")


def test_ten_thousand_ticks(toy_registry):
    g = make("""
nodes:
  c: {type: Counter}
  acc: {type: Accumulator, in: {x: c.count}}
  rec: {type: Recorder, every: 1000, in: {x: acc.total}}
""", toy_registry)
    g.run(10_000)
    assert g.tick == 10_000
    assert g.value("acc.total") == sum(range(10_000))
    assert len(g.nodes["rec"].seen) == 10


def test_run_calls_back_between_chunks(toy_registry):
    g = make("nodes:\n  c: {type: Counter}\n", toy_registry)
    seen = []
    g.run(2500, callback=lambda graph: seen.append(graph.tick), chunk=1000)
    assert seen == [1000, 2000, 2500]


def test_state_dict_resumes_exactly(toy_registry):
    text = """
nodes:
  tick: {type: Ticker, params: {period: 3}}
  c: {type: Counter}
  acc: {type: Accumulator, on: tick.event, every: 2, in: {x: c.count}}
  add: {type: Adder, in: {a: c.count, b: {from: add.sum, delay: 2, init: 1}}}
"""
    full = make(text, toy_registry)
    full.run(40)
    first = make(text, toy_registry)
    first.run(17)
    state = first.state_dict()
    resumed = make(text, toy_registry)
    resumed.load_state_dict(state)
    resumed.run(23)
    assert resumed.tick == 40
    for ref in ("acc.total", "add.sum", "c.count"):
        assert resumed.value(ref) == full.value(ref)
    assert resumed.state_dict() == full.state_dict()


def test_error_in_a_node_names_node_and_tick(toy_registry):
    g = make("""
nodes:
  c: {type: Counter}
  g: {type: Gain, params: {factor: 2}, in: {x: c.count}}
""", toy_registry)
    g.nodes["g"].factor = None  # a bug inside a node's step
    with pytest.raises(TypeError) as info:
        g.run(3)
    assert "raised by node 'g' (Gain) at tick 0" in "\n".join(info.value.__notes__)


def test_build_error_from_setup_is_located(toy_registry):
    from rlgraph.core import In, Kind, Node

    class Picky(Node):
        """Refuses blobs smaller than 10."""

        inputs = {"module": In(Kind.MODULE, "a blob")}

        def setup(self, module):
            if module["size"] < 10:
                self.fail("blob too small", port="module", hint="use size >= 10")

    toy_registry.add(Picky)
    spec, _ = parse_graph("nodes:\n  b: {type: Blob}\n  p:\n    type: Picky\n"
                          "    in: {module: b.module}\n", "p.yaml")
    with pytest.raises(GraphErrors) as info:
        build(check_graph(spec, toy_registry))
    error = info.value.errors[0]
    assert (error.node, error.port, error.loc.line) == ("p", "module", 5)
    assert "blob too small" in error.format() and "use size >= 10" in error.format()


def test_stream_wires_back_to_a_static_producer_are_not_a_build_cycle(toy_registry):
    # like a target network that fires on loss.loss while the loss reads its module
    g = make("""
nodes:
  c: {type: Counter}
  blob: {type: Blob, on: use.y}
  use: {type: UsesBlob, in: {module: blob.module, x: c.count}}
""", toy_registry)
    assert g.build_order.index("blob") < g.build_order.index("use")
    g.run(2)
    assert g.value("use.y") == 3.0


def test_a_node_refusing_its_input_while_running_is_a_located_error(toy_registry):
    g = make("""
nodes:
  c: {type: Counter}
  f:
    type: Fussy
    in: {x: c.count}
""", toy_registry)
    g.run(3)  # counts 0, 1, 2 pass
    with pytest.raises(GraphErrors) as caught:
        g.run(1)
    (error,) = caught.value.errors
    assert (error.node, error.port) == ("f", "x")
    assert str(error.loc) == "test.yaml:6:13"  # the wire into x
    assert "more than limit 2 (at tick 3)" in error.message and error.hint == "raise 'limit'"
    assert g.tick == 3


def test_the_tick_is_generated_code_a_person_can_read(toy_registry):
    g = make("""
nodes:
  c: {type: Counter, every: 4, after: 10}
  acc: {type: Accumulator, in: {x: c.count}}
""", toy_registry)
    source = g.tick_source
    assert "# c\n" in source and "# acc\n" in source
    assert "if t >= 10 and t % 4 == 0:" in source  # the triggers, numbers written in
    assert "step_acc(x=s[" in source  # inputs by keyword from the value slots
    g.run(20)
    assert g.nodes["acc"].total == 0 + 1  # c fired at ticks 12 and 16, counting 0 and 1
    assert g.value("acc.total") is ABSENT  # and not on the last tick, 19


def test_replace_step_wraps_a_node_and_errors_inside_a_repeat_name_the_node(toy_registry):
    g = make("""
nodes:
  c: {type: Counter, repeat: 3}
  g: {type: Gain, params: {factor: 2}, in: {x: c.count}}
  acc: {type: Accumulator, in: {x: g.y}}
""", toy_registry)
    calls = []
    step = g.nodes["g"].step

    def spy(**inputs):
        calls.append(inputs["x"])
        return step(**inputs)

    g.replace_step("g", spy)
    g.run(2)
    assert calls == [0, 1, 2, 3, 4, 5] and g.value("acc.total") == 2 * 15
    with pytest.raises(KeyError, match="'nope' does not fire"):
        g.replace_step("nope", spy)
    g.nodes["acc"].total = None  # a bug in the repeated part, at its first repetition
    with pytest.raises(TypeError) as info:
        g.run(1)
    assert "raised by node 'acc' (Accumulator) at tick 2" in "\n".join(info.value.__notes__)
    assert g.tick == 2  # the tick that failed


BURST_FEEDBACK = """
nodes:
  gate:
    type: Gate
    repeat: 10
    in: {feedback: {from: acc.total, delay: 1}}
  acc: {type: Accumulator, in: {x: gate.one}}
"""


def test_a_delayed_wire_inside_a_burst_counts_repetitions(toy_registry):
    """Feedback within a burst (PPO's KL early stop): the gate sees the total of the
    previous repetition of the same burst, from init at each burst, and closes once it
    reaches 3 — not the value of the last tick, which a delay counts everywhere else."""
    g = make(BURST_FEEDBACK, toy_registry)
    assert "line.clear(); line.extend(_repeat(init, 1))" in g.tick_source  # each burst
    g.step()
    assert g.nodes["acc"].total == 3  # 1, 2, 3: the fourth repetition saw 3 and closed
    g.step()
    assert g.nodes["acc"].total == 4  # a new burst starts without feedback: one more
    spec, _ = parse_graph(BURST_FEEDBACK, "b.yaml")
    assert check_graph(spec, toy_registry).warnings == []  # not "only the last value"
