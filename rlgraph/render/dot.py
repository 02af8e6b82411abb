"""A Drawing as graphviz DOT: node tables with port cells, typed edges, clusters, legend.

The flow runs left to right: a node's inputs are cells on its left, its outputs cells
on its right, and every edge attaches to the exact cell (`"env":out_obs:e`).

A delayed wire is drawn as in a signal-flow diagram: a small z⁻¹ box right before the
input that reads it, fed by a dashed wire that does not constrain the layout. Drawn as
one long constraint-free edge instead, the feedback loop (policy.action -> env.action)
must leave on the right and enter on the left, and graphviz wraps it around both
nodes; the box lets it arrive from the natural side and labels the delay where it acts.
"""

from __future__ import annotations

from html import escape
from typing import Any

import graphviz

from rlgraph.core.ports import ABSENT

from . import style as s
from .model import HEADER_PORT, Drawing, EdgeView, NodeView, PortView, port_id

#: Longest init value shown on a delayed edge before it is cut with an ellipsis.
MAX_INIT_CHARS = 24
#: Points between a node's input and output columns.
GAP = 14


def to_digraph(d: Drawing, *, legend: bool = True) -> graphviz.Digraph:
    """The DOT graph of a drawing; `.source` is the text, `.pipe()` renders it."""
    g = graphviz.Digraph(name=d.name, comment=f"rlgraph: {d.name}")
    g.attr("graph", rankdir="LR", newrank="true", nodesep="0.3", ranksep="0.65",
           pad="0.3", bgcolor="white", fontname=s.FONT, fontcolor=s.TEXT, labeljust="l",
           labelloc="t")
    g.attr("node", shape="plain", fontname=s.FONT, fontsize="11", fontcolor=s.TEXT)
    g.attr("edge", fontname=s.FONT, fontsize="10", arrowhead="normal")
    g.attr("graph", label=_title_label(d, legend))
    _add_nodes(g, d)
    for edge in d.edges:
        if edge.delay:
            _add_delayed_edge(g, edge)
        else:
            _add_edge(g, edge)
    return g


#: The tree key (and cluster name part) of a placed graph's actor group; '/' never
#: occurs in node names, so it cannot clash with a subgraph's cluster.
ACTORS = "/actors"


def _add_nodes(g: graphviz.Digraph, d: Drawing) -> None:
    """Every node, each inside the clusters its dotted name implies (and a placed
    graph's actors inside their group's cluster)."""
    tree: dict[str, Any] = {}  # cluster name -> subtree; "" -> nodes at this level
    for view in d.nodes.values():
        level = tree
        if view.actor:
            level = level.setdefault(ACTORS, {})
        for cluster in view.clusters:
            level = level.setdefault(cluster, {})
        level.setdefault("", []).append(view)
    delayed: dict[str, list[EdgeView]] = {}  # consumer -> its delayed wires
    for edge in d.edges:
        if edge.delay:
            delayed.setdefault(edge.dst, []).append(edge)
    _add_level(g, tree, delayed, d, "")


def _add_level(g: graphviz.Digraph, tree: dict[str, Any],
               delayed: dict[str, list[EdgeView]], d: Drawing, path: str) -> None:
    for view in tree.get("", []):
        g.node(view.name, label=node_label(view), tooltip=_node_tooltip(view))
        for edge in delayed.get(view.name, []):  # in the consumer's cluster
            g.node(delay_id(edge), label=_delay_label(edge), tooltip=_delay_tooltip(edge),
                   **_delay_box_attrs(edge))
    for cluster, subtree in tree.items():
        if cluster == "":
            continue
        with g.subgraph(name=f"cluster_{path}{cluster}") as sub:  # unique names
            if cluster == ACTORS:
                assert d.placement is not None
                sub.attr(label=_actors_label(d), style="rounded,filled,bold",
                         color=s.CHANNEL_COLOR, fillcolor=s.ACTORS_FILL, fontsize="12",
                         labeljust="l", margin="14", penwidth="1.6")
            else:
                sub.attr(label=f"<<B>{escape(cluster)}</B>>", style="rounded,filled",
                         color=s.CLUSTER_BORDER, fillcolor=s.CLUSTER_FILL, fontsize="12",
                         labeljust="l", margin="12")
            _add_level(sub, subtree, delayed, d, f"{ACTORS}/" if cluster == ACTORS else path)


def _actors_label(d: Drawing) -> str:
    """'actors × 4 workers', and how the fragments and weights travel."""
    p = d.placement
    assert p is not None
    workers = f"{p.workers} worker{'s' if p.workers != 1 else ''}"
    how = (f"fragments of {p.fragment} tick{'s' if p.fragment != 1 else ''}, {p.mode}; "
           f"weights after every "
           + (f"{p.weights_every} update bursts" if p.weights_every != 1 else "update burst"))
    return (f'<<FONT POINT-SIZE="13"><B>actors × {workers}</B></FONT>'
            f'<BR ALIGN="LEFT"/>{_font(how, s.MUTED_TEXT, 10)}<BR ALIGN="LEFT"/>>')


def node_label(view: NodeView) -> str:
    """The HTML-like table of one node: a header, then inputs left and outputs right."""
    border = s.ERROR_COLOR if view.marked else s.BORDER
    width = "2" if view.marked else "1"
    table_style = ' STYLE="dashed"' if view.placeholder else ' STYLE="rounded"'
    both = bool(view.inputs and view.outputs)
    columns = 3 if both else 1  # inputs, a gap, outputs
    fill = s.ERROR_FILL if view.failing else s.HEADER_FILL
    rows = [f'<TR><TD PORT="{HEADER_PORT}" COLSPAN="{columns}" BGCOLOR="{fill}" '
            f'CELLPADDING="4" STYLE="rounded">{_header_text(view)}</TD></TR>']
    for i in range(max(len(view.inputs), len(view.outputs))):
        cells = []
        if view.inputs:
            cells.append(_port_cell(view.inputs[i], "in") if i < len(view.inputs)
                         else "<TD></TD>")
        if both:
            cells.append(f'<TD WIDTH="{GAP}"></TD>')
        if view.outputs:
            cells.append(_port_cell(view.outputs[i], "out") if i < len(view.outputs)
                         else "<TD></TD>")
        rows.append("<TR>" + "".join(cells) + "</TR>")
    return (f'<<TABLE BORDER="{width}" COLOR="{border}" CELLBORDER="0" CELLSPACING="2" '
            f'CELLPADDING="3" BGCOLOR="{s.BODY_FILL}"{table_style}>'
            + "".join(rows) + "</TABLE>>")


def _header_text(view: NodeView) -> str:
    place = f"{view.position}. " if view.position else ""  # its place in the tick
    lines = [f'<FONT POINT-SIZE="13"><B>{place}{escape(view.label)}</B></FONT>']
    if view.placeholder:
        lines.append(_font("no such node", s.ERROR_COLOR, 10))
    elif not view.resolved:
        what = escape(view.type) + " (unknown type)" if view.type else "(no type)"
        lines.append(_font(what, s.ERROR_COLOR, 10, raw=True))
    else:
        lines.append(_font(view.type, s.MUTED_TEXT, 10))
    lines += [_font(line, s.PARAM_TEXT, 9) for line in view.params]
    if view.triggers:
        lines.append(_font(view.triggers, s.MUTED_TEXT, 9, italic=True))
    return "<BR/>".join(lines)


def _port_cell(port: PortView, direction: str) -> str:
    color = s.ERROR_COLOR if port.failing else (s.TEXT if port.connected else s.MUTED_TEXT)
    name = escape(port.name)
    if port.failing:
        name = f"<B>{name}</B>"
    if not port.declared and port.failing:
        name += f" {s.MISSING_MARK}"
    bullet = _font(s.BULLET, s.kind_color(port.kind), 10)
    text = f'<FONT COLOR="{color}">{name}</FONT>'
    content, align = (f"{bullet} {text}", "LEFT") if direction == "in" else \
        (f"{text} {bullet}", "RIGHT")
    return f'<TD PORT="{port_id(direction, port.name)}" ALIGN="{align}">{content}</TD>'


def _font(text: str, color: str, size: int, *, italic: bool = False, raw: bool = False) -> str:
    body = text if raw else escape(text)
    if italic:
        body = f"<I>{body}</I>"
    return f'<FONT COLOR="{color}" POINT-SIZE="{size}">{body}</FONT>'


def _node_tooltip(view: NodeView) -> str:
    """What an SVG viewer shows on hover: the type's summary and every problem."""
    head = f"{view.name}: {view.type}" if view.type else view.name
    lines = [head + (f" \u2014 {view.doc}" if view.doc else ""), *view.problems]
    return "\\n".join(line.replace("\n", "\\n") for line in lines)  # DOT's line break


def edge_attrs(edge: EdgeView) -> dict[str, str]:
    """Colour by kind, thickness by timing, dashes for delays, dots for triggers."""
    attrs = {"color": _edge_color(edge), "tooltip": edge.text}
    if edge.static:
        attrs.update(penwidth=s.STATIC_PENWIDTH, arrowsize=s.STATIC_ARROWSIZE,
                     weight=s.STATIC_WEIGHT)
    else:
        attrs.update(penwidth=s.STREAM_PENWIDTH, arrowsize=s.STREAM_ARROWSIZE,
                     weight=s.STREAM_WEIGHT)
    if edge.failing:
        attrs["penwidth"] = s.STREAM_PENWIDTH
    if edge.delay:
        attrs["style"] = "dashed"
    if edge.trigger:
        attrs.update(style="dotted", label="on", fontcolor=attrs["color"])
    if edge.order:
        attrs.update(style="dotted", label="then", fontcolor=s.ORDER_COLOR,
                     color=s.ERROR_COLOR if edge.failing else s.ORDER_COLOR,
                     penwidth=s.STATIC_PENWIDTH, arrowhead="vee")
    if edge.channel:  # a pipe between processes: the wire's colour, hollow
        color = attrs["color"]
        attrs.update(color=f"{color}:{s.BODY_FILL}:{color}", label=edge.channel,
                     fontcolor=s.CHANNEL_COLOR, fontsize="9",
                     tooltip=f"{edge.text}: the {edge.channel} channel between processes")
    return attrs


def _edge_color(edge: EdgeView) -> str:
    return s.ERROR_COLOR if edge.failing else s.kind_color(edge.kind)


def _add_edge(g: graphviz.Digraph, edge: EdgeView) -> None:
    """A wire from the right side of an output cell to the left side of an input cell."""
    tail = f"{edge.src}:{HEADER_PORT}" if edge.order else \
        f"{edge.src}:{port_id('out', edge.src_port)}:e"
    head = f"{edge.dst}:{HEADER_PORT}" if edge.dst_port is None else \
        f"{edge.dst}:{port_id('in', edge.dst_port)}:w"
    g.edge(tail, head, **edge_attrs(edge))


def delay_id(edge: EdgeView) -> str:
    """The DOT id of a delayed wire's z⁻ᵏ box; '/' never occurs in node names."""
    return f"{edge.dst}/{edge.dst_port}/delay"


def _add_delayed_edge(g: graphviz.Digraph, edge: EdgeView) -> None:
    """source -> z⁻ᵏ box (constraint=false: the layout ignores it) -> input."""
    attrs = edge_attrs(edge)
    g.edge(f"{edge.src}:{port_id('out', edge.src_port)}:e", delay_id(edge),
           **{**attrs, "arrowhead": "none", "constraint": "false"})
    g.edge(delay_id(edge), f"{edge.dst}:{port_id('in', str(edge.dst_port))}:w", **attrs)


def _delay_label(edge: EdgeView) -> str:
    color = _edge_color(edge)
    text = f'<FONT POINT-SIZE="12" COLOR="{color}"><B>{s.delay_label(edge.delay)}</B></FONT>'
    if edge.init is not ABSENT:
        text += "<BR/>" + _font(f"init {_short(edge.init)}", color, 9)
    return f"<{text}>"


def _delay_box_attrs(edge: EdgeView) -> dict[str, str]:
    return {"shape": "box", "style": "rounded,filled", "fillcolor": s.BODY_FILL,
            "color": _edge_color(edge), "penwidth": "1.2", "margin": "0.08,0.04",
            "width": "0", "height": "0"}


def _delay_tooltip(edge: EdgeView) -> str:
    ticks = f"{edge.delay} tick{'s' if edge.delay != 1 else ''}"
    init = "" if edge.init is ABSENT else f", {_short(edge.init)} until then"
    return f"{edge.text}: delayed by {ticks}{init}"


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= MAX_INIT_CHARS else text[:MAX_INIT_CHARS - 1] + "\u2026"


def _title_label(d: Drawing, legend: bool) -> str:
    """The graph's name and description, with the legend beneath them, above the drawing."""
    rows = [f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="18"><B>{escape(d.name)}</B></FONT>'
            + (f'  {_font(d.description, s.MUTED_TEXT, 12)}' if d.description else "")
            + "</TD></TR>"]
    if legend:
        rows.append(f'<TR><TD ALIGN="LEFT">{legend_table(d)}</TD></TR>')
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">'
            + "".join(rows) + "</TABLE>>")


def legend_table(d: Drawing) -> str:
    """One line of the edge kinds drawn, one line of the edge styles used."""
    heavy, light = "\u2501" * 3, "\u2500" * 3
    kinds = [_legend_entry(light if k.static else heavy, s.kind_color(k), k.name)
             for k in d.kinds()]
    styles = [_legend_entry(heavy, s.MUTED_TEXT, "stream: a value every tick")]
    if any(e.static for e in d.edges):
        styles.append(_legend_entry(light, s.MUTED_TEXT, "static: fixed at build"))
    if any(e.delay for e in d.edges):
        styles.append(_legend_entry("\u254d" * 3, s.MUTED_TEXT,
                                    f"{s.delay_label(1)}: delayed, reads the previous tick"))
    if any(e.trigger for e in d.edges):
        styles.append(_legend_entry("\u2509" * 3, s.MUTED_TEXT,
                                    "on: fires when that output is present"))
    if any(e.channel for e in d.edges):
        styles.append(_legend_entry("═" * 3, s.CHANNEL_COLOR,
                                    "channel: crosses between the learner and the workers"))
    if any(e.order for e in d.edges):
        styles.append(_legend_entry("\u2509" * 3, s.ORDER_COLOR,
                                    "then: order, runs before (numbers: order in a tick)"))
    if any(e.failing for e in d.edges) or any(n.marked for n in d.nodes.values()):
        styles.append(_legend_entry(heavy, s.ERROR_COLOR, "error (see the messages)"))
    lines = [LEGEND_SEP.join(entries) for entries in (kinds, styles) if entries]
    return "<BR ALIGN=\"LEFT\"/>".join(lines) + "<BR ALIGN=\"LEFT\"/>"


#: Space between legend entries (non-breaking, so graphviz keeps it).
LEGEND_SEP = "\u00a0" * 5


def _legend_entry(sample: str, color: str, text: str) -> str:
    return _font(sample, color, 11) + "\u00a0" + _font(text, s.MUTED_TEXT, 10)
