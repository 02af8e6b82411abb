"""The look of a drawing: one colour per port kind, edge styles, fonts.

Stream kinds get saturated colours and thick lines; static kinds (modules, specs,
buffers) get muted colours and thin lines, so the per-tick data flow stands out and
the build-time wiring stays readable in the background.
"""

from __future__ import annotations

import hashlib

from rlgraph.core.ports import Kind, PortKind

FONT = "Helvetica"
MONO = "Courier"

#: Edge and port-bullet colour of each kind.
KIND_COLORS: dict[PortKind, str] = {
    Kind.TENSOR: "#2563eb",  # blue
    Kind.TRANSITION: "#0d9488",  # teal
    Kind.BATCH: "#7c3aed",  # violet
    Kind.ROLLOUT: "#9333ea",  # purple
    Kind.SCALAR: "#ea580c",  # orange
    Kind.EVENT: "#db2777",  # pink
    Kind.ANY: "#475569",  # slate
    Kind.MODULE: "#8aa893",  # muted sage
    Kind.SPEC: "#9ea3bf",  # muted lavender
    Kind.BUFFER: "#bba37c",  # muted khaki
}
#: A port whose kind is unknown (its node's type did not resolve).
UNKNOWN_COLOR = "#94a3b8"
ERROR_COLOR = "#dc2626"
ORDER_COLOR = "#334155"  # `order:` constraints between node headers
ERROR_FILL = "#fee2e2"

TEXT = "#0f172a"
MUTED_TEXT = "#64748b"  # node types, unconnected ports
PARAM_TEXT = "#475569"  # the params a node sets, under its type
HEADER_FILL = "#e2e8f0"
BODY_FILL = "#ffffff"
BORDER = "#475569"
CLUSTER_FILL = "#f8fafc"
CLUSTER_BORDER = "#cbd5e1"
ACTORS_FILL = "#f0f9ff"  # a placed graph's actor group (replicated on workers)
CHANNEL_COLOR = "#0369a1"  # its border, and the labels of wires between processes

STREAM_PENWIDTH = "2.2"
STATIC_PENWIDTH = "0.9"
STREAM_ARROWSIZE = "0.8"
STATIC_ARROWSIZE = "0.5"

#: Layout weights: stream wires pull their nodes into line, static wires barely do.
STREAM_WEIGHT = "8"
STATIC_WEIGHT = "2"

BULLET = "\u25cf"  # ●
MISSING_MARK = "\u2717"  # ✗
SUPERSCRIPT = str.maketrans("0123456789-", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077"
                                            "\u2078\u2079\u207b")


#: Colours of kinds that node packages register, picked by a stable hash of the name.
EXTRA_STREAM_COLORS = ("#0891b2", "#65a30d", "#c026d3", "#b45309", "#4f46e5", "#be123c")
EXTRA_STATIC_COLORS = ("#a3a380", "#8fa3b8", "#b39bb8", "#9bb8a3")


def kind_color(kind: PortKind | None) -> str:
    if kind is None:
        return UNKNOWN_COLOR
    known = KIND_COLORS.get(kind)
    if known is not None:
        return known
    palette = EXTRA_STATIC_COLORS if kind.static else EXTRA_STREAM_COLORS
    index = int.from_bytes(hashlib.blake2b(kind.name.encode(), digest_size=2).digest(), "big")
    return palette[index % len(palette)]


def delay_label(delay: int) -> str:
    """z⁻¹ for a one-tick delay, z⁻ᵏ for k ticks: the unit-delay operator of signal flow."""
    return "z" + f"-{delay}".translate(SUPERSCRIPT)
