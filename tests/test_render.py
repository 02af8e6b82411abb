"""`rlgraph render`: what a user sees in the drawing of an agent, valid or broken."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rlgraph.cli import main
from rlgraph.core import REGISTRY, Kind, Registry
from rlgraph.core.build import check_file
from rlgraph.core.schedule import order_pairs, tick_order
from rlgraph.core.validate import CheckedGraph
from rlgraph.render import DotNotFound, render_checked, render_file, to_dot
from rlgraph.render.style import ERROR_COLOR, KIND_COLORS, STATIC_PENWIDTH, STREAM_PENWIDTH

ROOT = Path(__file__).resolve().parents[1]
GRAPHS = sorted((ROOT / "graphs").glob("*.yaml"))
HERE = Path(__file__).parent / "fixtures" / "render"
DQN_LIKE = HERE / "dqn_like.yaml"  # interface-only stubs: every kind, delay, trigger
BROKEN = HERE / "broken.yaml"  # one of each kind of mistake


# --- reading DOT back ----------------------------------------------------------------

_ID = r'"[^"]+"|\w+'
EDGE_RE = re.compile(rf"^\t+(?P<tail>{_ID})(?::(?P<tport>\w+))?(?::(?P<tside>[nsewc]))? -> "
                     rf"(?P<head>{_ID})(?::(?P<hport>\w+))?(?::(?P<hside>[nsewc]))?"
                     rf"(?: \[(?P<attrs>.*)\])?$")
NODE_RE = re.compile(rf"^\t+(?!graph |node |edge )(?P<id>{_ID}) \[label=<(?P<label>.*?>)>(?= |\])")
ATTR_RE = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def _unquote(text: str) -> str:
    return text[1:-1] if text.startswith('"') else text


def parse_dot(source: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Node id -> HTML label, and every edge as a dict of its ends and attributes."""
    nodes, edges = {}, []
    for line in source.splitlines():
        if m := EDGE_RE.match(line):
            attrs = {k: _unquote(v) for k, v in ATTR_RE.findall(m["attrs"] or "")}
            edges.append({"tail": _unquote(m["tail"]), "tport": m["tport"],
                          "tside": m["tside"], "head": _unquote(m["head"]),
                          "hport": m["hport"], "hside": m["hside"], **attrs})
        elif m := NODE_RE.match(line):
            nodes[_unquote(m["id"])] = m["label"]
    return nodes, edges


def checked_file(path: Path, registry: Registry = REGISTRY) -> CheckedGraph:
    checked, _ = check_file(path, registry)
    assert checked is not None
    return checked


def edge_to(edges: list[dict[str, str]], node: str, port: str | None) -> dict[str, str]:
    """The one edge into `node:port` (any port when None)."""
    found = [e for e in edges if e["head"] == node and port in (None, e["hport"])]
    assert len(found) == 1, f"expected one edge into {node}:{port}, got {found}"
    return found[0]


def delayed_wire(nodes: dict[str, str], edges: list[dict[str, str]], node: str,
                 port: str) -> tuple[dict[str, str], str, dict[str, str]]:
    """A delayed wire into `node:port`: (source -> box edge, box label, box -> input edge).

    It is drawn through a small z⁻ᵏ box just before the input."""
    into_input = edge_to(edges, node, port)
    box = into_input["tail"]
    assert box in nodes and "PORT=" not in nodes[box], f"{node}:{port} has no delay box"
    return edge_to(edges, box, None), nodes[box], into_input


# --- the shipped graphs ----------------------------------------------------------------

@pytest.mark.skipif(not GRAPHS, reason="no graphs/*.yaml yet")
@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.name)
def test_shipped_graph_draws_every_node_port_and_wire(path: Path) -> None:
    checked = checked_file(path)
    assert checked.ok, [e.format() for e in checked.errors]
    nodes, edges = parse_dot(to_dot(checked))

    assert set(checked.spec.nodes) <= set(nodes)
    for name, cls in checked.classes.items():
        label = nodes[name]
        # the header names the node (inside a subgraph's cluster, by its inner name) ...
        assert f"{name.rpartition('.')[2]}</B>" in label
        assert checked.spec.nodes[name].type in label  # ... and its type
        for port in cls.inputs:
            assert f'PORT="in_{port}"' in label, (name, port)
        for port in cls.outputs:
            assert f'PORT="out_{port}"' in label, (name, port)

    wires = checked.spec.edges()
    triggers = [n for n in checked.spec.nodes.values() if n.triggers.on is not None]
    delayed = [w for w in wires if w.delayed]
    assert delayed, "every shipped agent has its feedback loop"
    orders = order_pairs(checked.spec)
    assert orders, "every shipped agent states when its policy acts against its updates"
    # delays: two segments; order: one edge from header to header
    assert len(edges) == len(wires) + len(triggers) + len(delayed) + len(orders)
    for first, then, _, _ in orders:
        assert any(e["tail"] == first and e["tport"] == "header" and e["head"] == then
                   and e["hport"] == "header" and e["label"] == "then" for e in edges)
    for position, name in enumerate(tick_order(checked.spec, checked.classes), start=1):
        assert f"<B>{position}. {name.rpartition('.')[2]}</B>" in nodes[name]
    for wire in wires:
        out = checked.classes[wire.src.node].outputs[wire.src.port]
        edge = edge_to(edges, wire.dst_node, f"in_{wire.dst_port}")
        assert edge["hside"] == "w"  # into the left side of the input cell
        if wire.delayed:
            first, box, edge = delayed_wire(nodes, edges, wire.dst_node, f"in_{wire.dst_port}")
            assert first["style"] == edge["style"] == "dashed"
            assert first["constraint"] == "false" and "constraint" not in edge
            assert f"z\u207b{'¹²³⁴⁵⁶⁷⁸⁹'[wire.delay - 1]}" in box
        else:
            first = edge
            assert "style" not in edge
        assert (first["tail"], first["tport"], first["tside"]) == (
            wire.src.node, f"out_{wire.src.port}", "e")
        assert first["color"] == edge["color"] == KIND_COLORS[out.kind]
        assert edge["penwidth"] == (STATIC_PENWIDTH if out.static else STREAM_PENWIDTH)
    boxes = {edge_to(edges, w.dst_node, f"in_{w.dst_port}")["tail"] for w in delayed}
    assert set(nodes) == set(checked.spec.nodes) | boxes  # nothing else is drawn
    assert ERROR_COLOR not in to_dot(checked)  # a valid graph has nothing in red


@pytest.mark.skipif(not GRAPHS, reason="no graphs/*.yaml yet")
@pytest.mark.parametrize("path", GRAPHS, ids=lambda p: p.name)
def test_shipped_graph_renders_png_and_svg(path: Path, tmp_path: Path) -> None:
    checked = checked_file(path)
    png = render_checked(checked, tmp_path / "agent.png")
    with Image.open(png) as image:
        image.load()
        width, height = image.size
        assert 800 <= width <= 6000 and 300 <= height <= 4000, image.size
        # the data flow is drawn in colour, not just black boxes
        pixels = np.asarray(image.convert("RGB"), dtype=int)
        tensor = [int(KIND_COLORS[Kind.TENSOR][i:i + 2], 16) for i in (1, 3, 5)]
        blue = (np.abs(pixels - tensor).max(axis=2) < 40).sum()
        assert blue > 200
    svg = render_checked(checked, tmp_path / "agent.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    for name in checked.spec.nodes:
        assert f"{name.rpartition('.')[2]}</text>" in svg


# --- what each part of a drawing shows ----------------------------------------------------

def test_nodes_show_type_triggers_and_port_kinds() -> None:
    nodes, _ = parse_dot(to_dot(checked_file(DQN_LIKE)))
    assert "every 4 \u00b7 after 1000" in nodes["sample"]
    assert "every 500" in nodes["target"]
    assert "on env.episode" in nodes["log"]
    assert "dqn_stubs:Greedy" in nodes["policy"]
    # each port cell carries a bullet in its kind's colour
    cell = re.search(r'<TD PORT="out_batch".*?</TD>', nodes["sample"])[0]
    assert KIND_COLORS[Kind.BATCH] in cell
    # inputs sit on the left of a node, outputs on the right
    assert nodes["env"].index('PORT="in_action"') < nodes["env"].index('PORT="out_obs"')
    assert 'PORT="in_action" ALIGN="LEFT"' in nodes["env"]
    assert 'PORT="out_obs" ALIGN="RIGHT"' in nodes["env"]


def test_edges_are_coloured_by_kind_and_static_ones_are_thin() -> None:
    _, edges = parse_dot(to_dot(checked_file(DQN_LIKE)))
    cases = {("replay", "in_transition"): Kind.TRANSITION, ("loss", "in_batch"): Kind.BATCH,
             ("policy", "in_obs"): Kind.TENSOR, ("optim", "in_loss"): Kind.SCALAR,
             ("qnet", "in_spec"): Kind.SPEC, ("sample", "in_buffer"): Kind.BUFFER,
             ("loss", "in_q"): Kind.MODULE, ("log", "in_value"): Kind.SCALAR}
    for (node, port), kind in cases.items():
        edge = edge_to(edges, node, port)
        assert edge["color"] == KIND_COLORS[kind], (node, port)
        thin = kind.static
        assert edge["penwidth"] == (STATIC_PENWIDTH if thin else STREAM_PENWIDTH)
        assert float(edge["weight"]) < 8 if thin else float(edge["weight"]) >= 8


def test_delayed_edges_are_dashed_through_a_delay_box_and_do_not_constrain_the_layout(
        ) -> None:
    nodes, edges = parse_dot(to_dot(checked_file(DQN_LIKE)))
    back, box, action = delayed_wire(nodes, edges, "env", "in_action")
    assert (back["tail"], back["tport"]) == ("policy", "out_action")
    assert back["style"] == action["style"] == "dashed"
    assert back["constraint"] == "false" and back["arrowhead"] == "none"
    assert "z\u207b\u00b9" in box and "init 0" in box  # z⁻¹ with its init value
    back, box, _ = delayed_wire(nodes, edges, "replay", "in_priorities")
    assert (back["tail"], back["tport"]) == ("loss", "out_td_error")
    assert "z\u207b\u00b2" in box and "init" not in box  # delay 2, no init
    plain = edge_to(edges, "policy", "in_obs")
    assert "style" not in plain and "constraint" not in plain


def test_on_trigger_is_a_dotted_edge_into_the_header() -> None:
    _, edges = parse_dot(to_dot(checked_file(DQN_LIKE)))
    trigger = edge_to(edges, "log", "header")
    assert (trigger["tail"], trigger["tport"]) == ("env", "out_episode")
    assert trigger["style"] == "dotted" and trigger["color"] == KIND_COLORS[Kind.EVENT]


def test_legend_lists_the_kinds_and_styles_drawn() -> None:
    source = to_dot(checked_file(DQN_LIKE))
    legend = re.search(r"graph \[label=<(.*)>\]", source)[1]
    for kind in Kind.all():  # the DQN-like stubs use every kind but any and rollout
        assert (f">{kind.name}</FONT>" in legend) == (kind not in (Kind.ANY, Kind.ROLLOUT)), \
            kind
    for text in ("stream", "static: fixed at build", "z\u207b\u00b9: delayed", "on: fires"):
        assert text in legend
    assert "error" not in legend
    assert "every kind of edge" in legend  # the graph's description under its name


def test_subgraphs_are_drawn_as_nested_clusters(toy_registry: Registry) -> None:
    checked = checked_file(HERE / "two_agents.yaml", toy_registry)
    assert checked.ok, [e.format() for e in checked.errors]
    source = to_dot(checked)
    nodes, edges = parse_dot(source)

    delay_box = edge_to(edges, "b.inner.acc", "in_x")["tail"]
    assert set(nodes) == {"count", "a.acc", "a.gain", "b.inner.acc", "b.inner.gain", "out",
                          delay_box}
    assert re.search(r"<B>(\d+\. )?acc</B>", nodes["b.inner.acc"])  # the short name in its cluster
    opens = {m[1]: m.start() for m in re.finditer(r'subgraph "?cluster_([\w.]+)"? \{', source)}
    assert set(opens) == {"a", "b", "b.inner"}
    for cluster in opens:
        assert f"<B>{cluster}</B>" in source  # the cluster's label
    # b.inner sits inside b: it opens after b opens and before b closes
    b_body = source[opens["b"]:source.index("\n\t}", opens["b"])]
    assert opens["b"] < opens["b.inner"] < opens["b"] + len(b_body)
    assert '"b.inner.gain" [label=' in b_body and '"a.acc" [label=' not in b_body
    assert f'"{delay_box}" [label=' in b_body  # a delay box sits beside its input
    back, _, _ = delayed_wire(nodes, edges, "b.inner.acc", "in_x")
    assert (back["tail"], back["tport"]) == ("a.acc", "out_total")


def test_toy_graph_renders_with_a_custom_registry(toy_registry: Registry,
                                                  tmp_path: Path) -> None:
    graph = tmp_path / "toy.yaml"
    graph.write_text("nodes:\n"
                     "  count: {type: Counter}\n"
                     "  add: {type: Adder, in: {a: count.count,"
                     " b: {from: acc.total, delay: 1, init: 0.5}}}\n"
                     "  acc: {type: Accumulator, in: {x: add.sum}}\n"
                     "  tick: {type: Ticker}\n"
                     "  rec: {type: Recorder, on: tick.event, in: {x: acc.total}}\n")
    out = tmp_path / "toy.dot"
    assert render_file(graph, out, registry=toy_registry) == 0
    nodes, edges = parse_dot(out.read_text(encoding="utf-8"))
    back, box, _ = delayed_wire(nodes, edges, "add", "in_b")
    assert back["tail"] == "acc" and "init 0.5" in box
    assert edge_to(edges, "rec", "header")["style"] == "dotted"


# --- the command ----------------------------------------------------------------------

@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG\r\n\x1a\n"), (".svg", b"<?xml"),
                                          (".dot", b"// rlgraph: dqn_like")])
def test_cli_writes_each_format(suffix: str, magic: bytes, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pictures" / f"agent{suffix}"  # missing folders are created
    assert main(["render", str(DQN_LIKE), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    captured = capsys.readouterr()
    assert f"wrote {out}" in captured.out and captured.err == ""


def test_unsupported_suffix_is_a_usage_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert render_file(DQN_LIKE, tmp_path / "agent.jpg") == 2
    assert "use one of .dot, .gv, .pdf, .png, .svg" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_invalid_graph_is_drawn_with_failures_in_red(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    out = tmp_path / "broken.dot"
    assert render_file(BROKEN, out) == 1
    err = capsys.readouterr().err
    _, errors = check_file(BROKEN, REGISTRY)
    assert len(errors) >= 7
    for error in errors:
        assert error.format() in err
    assert f"{len(errors)} errors; drew what is valid" in err and "Traceback" not in err

    nodes, edges = parse_dot(out.read_text(encoding="utf-8"))
    red = f'COLOR="{ERROR_COLOR}"'
    # an unknown type still shows the ports the file uses, under a red header
    assert "dqn_stubs:Losss (unknown type)" in nodes["loss"] and red in nodes["loss"]
    for port in ("in_batch", "in_q", "in_target_q", "out_loss"):
        assert f'PORT="{port}"' in nodes["loss"]
    # a wire from a node that does not exist starts at a red placeholder
    assert "no such node" in nodes["target"] and 'STYLE="dashed"' in nodes["target"]
    assert edge_to(edges, "loss", "in_target_q")["tail"] == "target"
    assert edge_to(edges, "loss", "in_target_q")["color"] == ERROR_COLOR
    # a misspelled output gets a red cell on its node; the wire from it is red
    assert re.search(rf'PORT="out_obz".*{ERROR_COLOR}', nodes["env"])
    assert edge_to(edges, "policy", "in_obs")["color"] == ERROR_COLOR
    # a kind mismatch, an undeclared input, an unconnected required input: red
    assert edge_to(edges, "replay", "in_transition")["color"] == ERROR_COLOR
    assert edge_to(edges, "optim", "in_lr")["color"] == ERROR_COLOR
    assert re.search(rf'PORT="in_buffer".*?{ERROR_COLOR}', nodes["sample"])
    # what is valid keeps its colours, and valid nodes their normal border
    assert edge_to(edges, "qnet", "in_spec")["color"] == KIND_COLORS[Kind.SPEC]
    assert red not in nodes["qnet"]
    assert "error (see the messages)" in out.read_text(encoding="utf-8")


def test_unparseable_yaml_writes_nothing(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes:\n  env: {type: GymEnv\n")
    out = tmp_path / "bad.png"
    assert render_file(bad, out) == 1
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "error" in err
    assert not out.exists() and not out.with_suffix(".dot").exists()


def test_missing_dot_program_writes_dot_and_prints_an_install_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` anywhere
    out = tmp_path / "agent.png"
    assert render_file(DQN_LIKE, out) == 1
    err = capsys.readouterr().err
    assert not out.exists()
    assert out.with_suffix(".dot").read_text(encoding="utf-8").startswith("// rlgraph")
    assert "sudo apt-get install graphviz" in err and "brew install graphviz" in err
    assert f"dot -Tpng {out.with_suffix('.dot')} -o {out}" in err
    assert "Traceback" not in err and err.count("\n") <= 3

    with pytest.raises(DotNotFound) as info:  # what `rlgraph run` sees
        render_checked(checked_file(DQN_LIKE), tmp_path / "run" / "graph.png")
    assert info.value.dot_path == tmp_path / "run" / "graph.dot"
    assert info.value.dot_path.exists()


def test_failing_dot_program_is_reported_without_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "bin" / "dot"  # a graphviz built without PNG support
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n/bin/cat > /dev/null\n"  # reads the graph, as dot does
                    "echo 'Format: \"png\" not recognized. Use one of: svg' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    out = tmp_path / "agent.png"
    assert render_file(DQN_LIKE, out) == 1
    err = capsys.readouterr().err
    assert f'graphviz could not draw {out}: Format: "png" not recognized' in err
    assert "Traceback" not in err and not out.exists()
    assert out.with_suffix(".dot").exists()
