"""Node declarations, standalone construction, the registry and located YAML."""

from __future__ import annotations

import importlib.metadata
import textwrap

import pytest
from toy_nodes import Adder, Blob, Counter, UsesBlob

from rlgraph.core import (
    In,
    Kind,
    Node,
    NodeConfigError,
    NodeDefinitionError,
    Out,
    Param,
    Registry,
    RegistryError,
)
from rlgraph.core.yamlsrc import load_yaml


# ---- nodes driven without a graph -------------------------------------------------
def test_node_runs_standalone_with_defaults_and_params():
    c = Counter(start=3)
    assert [c.step()["count"] for _ in range(3)] == [3, 4, 5]
    assert Adder(offset=1).step(a=1, b=2) == {"sum": 4.0}
    assert isinstance(Adder().offset, float)  # declared float: ints are widened


def test_static_inputs_go_to_setup_and_static_outputs_come_back():
    blob = Blob(size=4)
    assert blob.static_outputs == {"module": {"size": 4, "parent": None}}
    use = UsesBlob(module=blob.static_outputs["module"])
    assert use.step(x=2.0) == {"y": 8.0}


def test_bad_params_at_construction_say_what_is_wrong():
    with pytest.raises(NodeConfigError, match="param 'increment' must be >= 1, got 0"):
        Counter(increment=0)
    with pytest.raises(NodeConfigError, match="no param or static input 'strat'") as info:
        Counter(strat=1)
    assert info.value.hint == "did you mean 'start'?"
    with pytest.raises(NodeConfigError, match="static input 'module' is required"):
        UsesBlob()


def test_mutable_defaults_are_not_shared():
    class Net(Node):
        """Has a list default."""

        params = {"hidden": Param(list, [64, 64], "layer sizes", item=int)}

    a, b = Net(), Net()
    a.hidden.append(1)
    assert b.hidden == [64, 64]
    with pytest.raises(NodeConfigError, match="item 1 must be integer"):
        Net(hidden=[64, "x"])


def test_malformed_declarations_fail_at_class_definition():
    with pytest.raises(NodeDefinitionError, match="must be In"):
        class Bad(Node):
            inputs = {"x": Out(Kind.TENSOR)}
    with pytest.raises(NodeDefinitionError, match="reserved"):
        class Bad2(Node):
            params = {"name": Param(str, "x")}
    with pytest.raises(TypeError, match="unknown port kind 'tensr'"):
        In("tensr")
    with pytest.raises(NodeDefinitionError, match="both as param and as input"):
        class Bad3(Node):
            inputs = {"x": In(Kind.SCALAR)}
            params = {"x": Param(int, 1)}


def test_step_and_setup_must_take_the_declared_inputs():
    """A mismatch between declarations and body is the node author's error when the class
    is defined, not a TypeError at tick 0 of somebody's run."""
    with pytest.raises(NodeDefinitionError, match=r"Typo.step\(\) takes \['ob'\], which is "
                                                  r"not a declared stream input"):
        class Typo(Node):
            inputs = {"obs": In(Kind.TENSOR, "observations")}

            def step(self, ob):
                return None
    with pytest.raises(NodeDefinitionError, match=r"does not take the declared stream "
                                                  r"input\(s\) \['b'\]"):
        class Missing(Node):
            inputs = {"a": In(Kind.SCALAR, "a"), "b": In(Kind.SCALAR, "b")}

            def step(self, a):
                return None
    with pytest.raises(NodeDefinitionError, match=r"optional input\(s\) \['b'\] need a "
                                                  r"default"):
        class NoDefault(Node):
            inputs = {"a": In(Kind.SCALAR, "a"), "b": In(Kind.SCALAR, "b", optional=True)}

            def step(self, a, b):
                return None
    with pytest.raises(NodeDefinitionError, match=r"Static.setup\(\) takes \['mod'\]"):
        class Static(Node):
            inputs = {"module": In(Kind.MODULE, "a network")}

            def setup(self, mod):
                return None
    with pytest.raises(NodeDefinitionError, match="positionally"):
        class Positional(Node):
            inputs = {"a": In(Kind.SCALAR, "a")}

            def step(self, a, /):
                return None

    class Extended(Adder):  # a subclass that adds an input must take it too
        inputs = {**Adder.inputs, "c": In(Kind.SCALAR, "third", optional=True)}

        def step(self, a, b=None, c=None):
            return {"sum": a + (b or 0) + (c or 0)}

    with pytest.raises(NodeDefinitionError, match=r"Inherited.step\(\) does not take"):
        class Inherited(Adder):
            inputs = {**Adder.inputs, "c": In(Kind.SCALAR, "third", optional=True)}

    class Generic(Node):  # **inputs takes whatever is declared
        inputs = {"a": In(Kind.SCALAR, "a")}

        def step(self, **inputs):
            return None


def test_node_packages_add_port_kinds(monkeypatch):
    monkeypatch.setattr(Kind, "_registered", dict(Kind._registered))  # leave no trace
    trajectory = Kind.register("toy_trajectory", "T steps of N envs")
    assert Kind.register("toy_trajectory", "T steps of N envs") is trajectory
    assert Kind.get("toy_trajectory") is trajectory and trajectory in Kind.all()
    assert In("toy_trajectory").kind is trajectory and not In(trajectory).static
    with pytest.raises(NameError, match="already registered"):
        Kind.register("toy_trajectory", "something else", static=True)
    with pytest.raises(NameError, match="already registered"):
        Kind.register("tensor", "my tensors")
    assert str(Kind.TENSOR) == "tensor" and Kind.MODULE.static


def test_module_roles_are_declared_on_module_ports_only():
    assert In(Kind.MODULE, role="q").roles == ("q",)
    assert Out(Kind.MODULE, role=("actor_critic", "policy")).roles == ("actor_critic", "policy")
    assert In(Kind.MODULE).roles == ()
    with pytest.raises(TypeError, match="unknown module role"):
        In(Kind.MODULE, role="qq")
    with pytest.raises(TypeError, match="only module ports have roles"):
        In(Kind.TENSOR, role="q")


def test_a_warning_is_not_an_error():
    from rlgraph.core import GraphError, GraphWarning
    warning = GraphWarning("suspicious", node="x")
    assert not isinstance(warning, GraphError) and isinstance(warning, UserWarning)
    assert warning.format() == "warning: node 'x': suspicious"
    with pytest.raises(GraphError):  # an `except GraphError` catches errors only
        try:
            raise GraphError("wrong")
        except GraphWarning:  # pragma: no cover - must not happen
            pytest.fail("a GraphError was caught as a warning")


def test_ports_default_to_static_for_modules_specs_buffers():
    assert In(Kind.MODULE).static and In(Kind.SPEC).static and Out(Kind.BUFFER).static
    assert not In(Kind.TENSOR).static and not Out(Kind.BATCH).static
    assert not In(Kind.MODULE, static=False).static


def test_param_checks():
    p = Param(float, 0.5, "a rate", low=0.0, high=1.0, low_open=True)
    assert p.check(1)[0] == 1.0 and p.check(1)[1] is None
    assert "must be in (0.0, 1.0]" in p.check(0.0)[1]
    assert "must be number, got boolean" in p.check(True)[1]
    assert "one of 'a', 'b'" in Param(str, "a", choices=("a", "b")).check("c")[1]
    assert Param(int, None).check(None) == (None, None)
    assert "got null" in Param(int, 3).check(None)[1]


# ---- registry --------------------------------------------------------------------
def test_registry_rejects_duplicate_names():
    reg = Registry(builtin_package=None, entry_point_group=None)
    reg.add(Counter)

    class Counter2(Counter):
        """Another counter."""

    with pytest.raises(RegistryError, match="registered twice"):
        reg.add(Counter2, name="Counter")


def test_import_path_resolves_beside_the_yaml_file(tmp_path):
    (tmp_path / "my_nodes_mod.py").write_text(textwrap.dedent("""
        from rlgraph.core import Node, Out, Kind
        class Five(Node):
            \"\"\"Always five.\"\"\"
            outputs = {"x": Out(Kind.SCALAR, "five")}
            def step(self):
                return {"x": 5}
        NotANode = 3
    """))
    reg = Registry(builtin_package=None, entry_point_group=None)
    cls = reg.resolve("my_nodes_mod:Five", base_dir=tmp_path)
    assert cls().step() == {"x": 5}
    with pytest.raises(RegistryError, match="not an rlgraph node class"):
        reg.resolve("my_nodes_mod:NotANode", base_dir=tmp_path)
    with pytest.raises(RegistryError, match="has no attribute 'Fiv'") as info:
        reg.resolve("my_nodes_mod:Fiv", base_dir=tmp_path)
    assert info.value.hint == "did you mean 'Five'?"


def test_entry_points_register_third_party_nodes(monkeypatch):
    ep = importlib.metadata.EntryPoint(name="ThirdCounter", value="toy_nodes:Counter",
                                       group="rlgraph.nodes")
    dup = importlib.metadata.EntryPoint(name="Counter", value="toy_nodes:Adder",
                                        group="rlgraph.nodes")

    def fake(group):
        return [ep] if group == "rlgraph.nodes" else []

    monkeypatch.setattr(importlib.metadata, "entry_points", fake)
    reg = Registry(builtin_package=None)
    assert reg.resolve("ThirdCounter") is Counter
    assert "ThirdCounter" in reg.names()

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [dup])
    reg2 = Registry(builtin_package=None)
    reg2.add(Counter)
    with pytest.raises(RegistryError, match="registered twice"):
        reg2.names()


def test_builtin_names_come_from_the_node_library():
    from rlgraph.core import REGISTRY
    names = REGISTRY.names()
    for name in names:
        assert issubclass(REGISTRY.resolve(name), Node)


# ---- located YAML ----------------------------------------------------------------
def test_yaml_keeps_positions_of_keys_and_values():
    data, errors = load_yaml("a: 1\nb:\n  c: [x, y]\n  d: {on: true}\n", "f.yaml")
    assert errors == []
    assert (data.key_loc("b").line, data.key_loc("b").col) == (2, 1)
    inner = data["b"]
    assert (inner.value_loc("c").line, inner.value_loc("c").col) == (3, 6)
    assert inner["c"].item_locs[1].col == 10
    assert inner["d"] == {"on": True}  # the key `on` stays a string


def test_yaml_duplicate_keys_and_merges():
    data, errors = load_yaml("base: &b {x: 1, y: 2}\nk:\n  <<: *b\n  y: 3\nk: 4\n", "f.yaml")
    assert data["k"] == {"y": 3, "x": 1}  # explicit keys win over merged ones
    assert len(errors) == 1
    assert errors[0].loc.line == 5 and "duplicate key 'k'" in errors[0].message


def test_yaml_reads_exponent_floats_as_numbers():
    data, errors = load_yaml("lr: 1e-3\nquoted: '1e-3'\nbig: -2.5E+4\n", "f.yaml")
    assert errors == []
    assert data == {"lr": 0.001, "quoted": "1e-3", "big": -25000.0}
