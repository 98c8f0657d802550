"""State diagrams 狀態圖, drawn as SVG from the states/ classes themselves: a change to a machine
changes its picture, so the diagram staff read is never out of date.

Layout: a simple layered drawing computed from the graph — each state's column is its BFS depth
from the initial state (states the initial state cannot reach go in a last column), the order
within a column follows the discovery order, then one pass puts each state near the mean row of
its predecessors. Edges between the same two states are merged (their event labels joined);
edges to the next column are straight, opposite pairs and edges within a column curve apart, and
edges going back two columns or more run in lanes below the rows, so they never cross a state.
Each event label goes where it covers the least of the states and of the other labels. The
initial state has an arrow from a dot; final states a double border. No external tools; the
drawing keeps its natural size (the page scrolls it rather than shrinking the text).
"""
from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass

from markupsafe import Markup, escape
from statemachine import StateMachine

from states import edges, event_label
from web.charts import FONT, num, text_width  # as the charts measure and print

NODE_HEIGHT = 36
COLUMN_GAP = 150  # room for event labels between columns
ROW_GAP = 40
MARGIN = 24
ENTRY = 40  # room left of the first column for the initial arrow
FONT_SIZE = 13
LABEL_SIZE = 11


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    column: int
    row: int
    initial: bool
    final: bool


@dataclass(frozen=True)
class Link:
    """One drawn arrow: every event from `source` to `target`."""

    source: str
    target: str
    events: tuple[str, ...]
    labels: tuple[str, ...]

    @property
    def label(self) -> str:
        return "／".join(self.labels)


def links(machine: type[StateMachine]) -> list[Link]:
    """The machine's transitions grouped by (source, target), in declaration order."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for edge in edges(machine):
        events = grouped.setdefault((edge.source, edge.target), [])
        if edge.event not in events:
            events.append(edge.event)
    return [Link(source, target, tuple(events), tuple(event_label(machine, e) for e in events))
            for (source, target), events in grouped.items()]


def layout(machine: type[StateMachine]) -> dict[str, Node]:
    """{state id: Node} with the column (BFS depth from the initial state) and row of each state."""
    states = list(machine.states)
    initial = next((s for s in states if s.initial), states[0])
    successors: dict[str, list[str]] = {s.id: [] for s in states}
    for link in links(machine):
        successors[link.source].append(link.target)
    depth, order, queue = {initial.id: 0}, [initial.id], deque([initial.id])
    while queue:
        here = queue.popleft()
        for there in successors[here]:
            if there not in depth:
                depth[there] = depth[here] + 1
                order.append(there)
                queue.append(there)
    last = max(depth.values()) + 1
    for state in states:  # unreachable from the initial state: drawn apart, in a last column
        if state.id not in depth:
            depth[state.id] = last
            order.append(state.id)
    columns: dict[int, list[str]] = {}
    for state_id in order:
        columns.setdefault(depth[state_id], []).append(state_id)
    row = {s: columns[depth[s]].index(s) for s in order}
    predecessors: dict[str, list[str]] = {s: [] for s in order}
    for source, targets in successors.items():
        for target in targets:
            if depth[source] < depth[target]:
                predecessors[target].append(source)
    for column in sorted(columns)[1:]:
        members = columns[column]
        def weight(state_id: str) -> float:
            rows = [row[p] for p in predecessors[state_id]]
            return sum(rows) / len(rows) if rows else float(row[state_id])
        members.sort(key=lambda s: (weight(s), row[s]))
        for index, state_id in enumerate(members):
            row[state_id] = index
    by_id = {s.id: s for s in states}
    return {s: Node(s, by_id[s].name, depth[s], row[s], bool(by_id[s].initial), bool(by_id[s].final))
            for s in order}


@dataclass
class _Route:
    """How one arrow is drawn: an SVG path and where its label may go (best first)."""

    d: str
    spots: list[tuple[float, float]]
    lowest: float  # the lowest y the path reaches (for the drawing's height)
    highest: float


def _quadratic(p0, c, p2, t: float) -> tuple[float, float]:
    a, b, e = (1 - t) ** 2, 2 * (1 - t) * t, t * t
    return a * p0[0] + b * c[0] + e * p2[0], a * p0[1] + b * c[1] + e * p2[1]


def _overlap(box, boxes) -> float:
    """The area of `box` covered by `boxes`."""
    x0, y0, x1, y1 = box
    return sum(max(0.0, min(x1, a1) - max(x0, a0)) * max(0.0, min(y1, b1) - max(y0, b0))
               for a0, b0, a1, b1 in boxes)


def machine_svg(machine: type[StateMachine], *, title: str | None = None) -> Markup:
    """The machine drawn as an inline SVG (well-formed XML), with a <title> and a <desc> listing
    every transition in words."""
    nodes = layout(machine)
    arrows = links(machine)
    title = title or machine.__name__
    node_width = max(text_width(n.label, FONT_SIZE) for n in nodes.values()) + 28
    half_w, half_h = node_width / 2, NODE_HEIGHT / 2
    column_sizes: dict[int, int] = {}
    for node in nodes.values():
        column_sizes[node.column] = column_sizes.get(node.column, 0) + 1
    tallest = max(column_sizes.values())
    pitch = NODE_HEIGHT + ROW_GAP
    centre: dict[str, tuple[float, float]] = {}
    for node in nodes.values():
        x = MARGIN + ENTRY + node.column * (node_width + COLUMN_GAP) + half_w
        offset = (tallest - column_sizes[node.column]) * pitch / 2  # columns centred vertically
        centre[node.id] = (x, MARGIN + offset + node.row * pitch + half_h)
    columns = max(column_sizes) + 1
    width = MARGIN * 2 + ENTRY + columns * node_width + (columns - 1) * COLUMN_GAP
    rows_bottom = MARGIN + tallest * pitch - ROW_GAP
    pairs = {(a.source, a.target) for a in arrows}

    def boundary(x: float, y: float, towards, gap: float) -> tuple[float, float]:
        dx, dy = towards[0] - x, towards[1] - y
        length = math.hypot(dx, dy) or 1.0
        ux, uy = dx / length, dy / length
        t = min(half_w / abs(ux) if ux else math.inf, half_h / abs(uy) if uy else math.inf)
        return x + ux * (t + gap), y + uy * (t + gap)

    lane = 0
    routes: list[_Route] = []
    for arrow in arrows:
        (x0, y0), (x2, y2) = centre[arrow.source], centre[arrow.target]
        span = nodes[arrow.target].column - nodes[arrow.source].column
        if arrow.source == arrow.target:  # a loop above the state
            top = y0 - half_h
            d = (f"M{num(x0 - half_w / 3)},{num(top)} C{num(x0 - half_w / 2)},{num(top - 44)} "
                 f"{num(x0 + half_w / 2)},{num(top - 44)} {num(x0 + half_w / 3)},{num(top - 3)}")
            routes.append(_Route(d, [(x0, top - 38)], top, top - 46))
        elif span <= -2:
            # A long way back: down the gap beside the source, along a lane below every row,
            # up the gap beside the target, into its side — never through another state.
            lane += 1
            out_x = x0 - half_w - 14 - 6 * lane
            in_x = x2 + half_w + 14 + 6 * lane
            floor = rows_bottom + 14 + 16 * lane
            r = 6
            d = (f"M{num(x0 - half_w)},{num(y0 + 6)} L{num(out_x + r)},{num(y0 + 6)} "
                 f"Q{num(out_x)},{num(y0 + 6)} {num(out_x)},{num(y0 + 6 + r)} L{num(out_x)},{num(floor - r)} "
                 f"Q{num(out_x)},{num(floor)} {num(out_x - r)},{num(floor)} L{num(in_x + r)},{num(floor)} "
                 f"Q{num(in_x)},{num(floor)} {num(in_x)},{num(floor - r)} L{num(in_x)},{num(y2 + 6 + r)} "
                 f"Q{num(in_x)},{num(y2 + 6)} {num(in_x - r)},{num(y2 + 6)} L{num(x2 + half_w + 3)},{num(y2 + 6)}")
            spots = [(in_x + (out_x - in_x) * f, floor) for f in (0.5, 0.35, 0.65, 0.2, 0.8)]
            routes.append(_Route(d, spots, floor + 10, min(y0, y2)))
        else:
            length = math.hypot(x2 - x0, y2 - y0)
            if span == 1 and (arrow.target, arrow.source) not in pairs:
                bow = 0.0
            elif span == 0:
                bow = 40 + 8 * abs(nodes[arrow.target].row - nodes[arrow.source].row)
            else:  # opposite edges between neighbouring columns: each bows to its own side
                bow = 16.0 if span == 1 else 22.0
            nx, ny = (y2 - y0) / length, -(x2 - x0) / length  # left of the direction of travel
            control = ((x0 + x2) / 2 + nx * bow * 2, (y0 + y2) / 2 + ny * bow * 2)
            start, end = boundary(x0, y0, control, 1), boundary(x2, y2, control, 3)
            d = f"M{num(start[0])},{num(start[1])} Q{num(control[0])},{num(control[1])} {num(end[0])},{num(end[1])}"
            spots = [_quadratic(start, control, end, t) for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78)]
            middle = _quadratic(start, control, end, 0.5)
            routes.append(_Route(d, spots, max(start[1], end[1], middle[1]), min(start[1], end[1], middle[1])))

    # Labels: along each arrow (on it, or just above or below it), the first spot that covers
    # the least of the states and of the labels already placed.
    taken = [(x - half_w, y - half_h, x + half_w, y + half_h) for x, y in centre.values()]
    placed: list[tuple[float, float]] = []
    for arrow, route in zip(arrows, routes):
        w = text_width(arrow.label, LABEL_SIZE) + 6
        spots = [(x, y + dy) for dy in (0, -10, 10) for x, y in route.spots]
        boxes = [(x - w / 2, y - 9, x + w / 2, y + 7) for x, y in spots]
        best = min(range(len(boxes)), key=lambda i: (_overlap(boxes[i], taken), i))
        taken.append(boxes[best])
        placed.append(spots[best])

    low = min([MARGIN, *(r.highest - 12 for r in routes)])
    high = max([rows_bottom, *(r.lowest + 12 for r in routes)])
    shift = MARGIN - low
    height = high + shift + 40  # the legend below
    uid = "d" + hashlib.sha1(f"{machine.__qualname__}|{title}|{sorted(nodes)}|{arrows}".encode()).hexdigest()[:10]

    paths, labels = [], []
    for arrow, route, (lx, ly) in zip(arrows, routes, placed):
        events = escape(" ".join(arrow.events))
        describe = (f"{arrow.label}（{'、'.join(arrow.events)}）：{nodes[arrow.source].label} → "
                    f"{nodes[arrow.target].label}")
        paths.append(f'<g class="transition" data-source="{escape(arrow.source)}" '
                     f'data-target="{escape(arrow.target)}" data-events="{events}">'
                     f'<title>{escape(describe)}</title><path d="{route.d}" fill="none" stroke="#555" '
                     f'stroke-width="1.3" marker-end="url(#{uid}-arrow)"/></g>')
        w = text_width(arrow.label, LABEL_SIZE) + 6
        labels.append(f'<g class="event-label" data-events="{events}">'
                      f'<rect x="{num(lx - w / 2)}" y="{num(ly - 9)}" width="{num(w)}" height="16" rx="3" '
                      f'fill="#fff" fill-opacity="0.9"/><text x="{num(lx)}" y="{num(ly + 3)}" '
                      f'text-anchor="middle" font-size="{LABEL_SIZE}" fill="#333">{escape(arrow.label)}</text></g>')

    shapes = []
    for node in nodes.values():
        x, y = centre[node.id]
        left, top = x - half_w, y - half_h
        parts = [f'<rect x="{num(left)}" y="{num(top)}" width="{num(node_width)}" height="{NODE_HEIGHT}" rx="8" '
                 f'fill="{"#eef7ee" if node.final else "#e8f0f8"}" stroke="#1f4e79" stroke-width="1.5"/>']
        if node.final:  # double border
            parts.append(f'<rect x="{num(left + 4)}" y="{num(top + 4)}" width="{num(node_width - 8)}" '
                         f'height="{NODE_HEIGHT - 8}" rx="5" fill="none" stroke="#1f4e79" stroke-width="1"/>')
        if node.initial:  # a dot and an arrow into the initial state
            parts.append(f'<circle cx="{num(left - ENTRY + 8)}" cy="{num(y)}" r="6" fill="#1d1d1f"/>'
                         f'<line x1="{num(left - ENTRY + 14)}" y1="{num(y)}" x2="{num(left - 3)}" y2="{num(y)}" '
                         f'stroke="#1d1d1f" stroke-width="1.5" marker-end="url(#{uid}-arrow)"/>')
        parts.append(f'<text x="{num(x)}" y="{num(y + 5)}" text-anchor="middle" font-size="{FONT_SIZE}" '
                     f'fill="#1d1d1f">{escape(node.label)}</text>')
        kind = "起始狀態" if node.initial else ("終止狀態" if node.final else "狀態")
        shapes.append(f'<g class="state" data-state="{escape(node.id)}" '
                      f'data-initial="{str(node.initial).lower()}" data-final="{str(node.final).lower()}">'
                      f'<title>{escape(node.label)}（{escape(node.id)}，{kind}）</title>{"".join(parts)}</g>')

    legend_y = height - 14
    legend = (f'<g class="legend"><circle cx="{MARGIN + 6}" cy="{num(legend_y - 4)}" r="5" fill="#1d1d1f"/>'
              f'<text x="{MARGIN + 16}" y="{num(legend_y)}" font-size="11" fill="#333">起始狀態</text>'
              f'<rect x="{MARGIN + 84}" y="{num(legend_y - 11)}" width="22" height="14" rx="3" fill="#eef7ee" '
              f'stroke="#1f4e79"/><rect x="{MARGIN + 87}" y="{num(legend_y - 8)}" width="16" height="8" rx="2" '
              f'fill="none" stroke="#1f4e79"/><text x="{MARGIN + 112}" y="{num(legend_y)}" font-size="11" '
              f'fill="#333">終止狀態（雙框）</text></g>')
    initial_labels = "、".join(n.label for n in nodes.values() if n.initial)
    final_labels = "、".join(n.label for n in nodes.values() if n.final) or "無"
    moves = "；".join(f"{nodes[a.source].label} →「{a.label}」→ {nodes[a.target].label}" for a in arrows)
    desc = f"起始狀態：{initial_labels}。終止狀態：{final_labels}。轉換：{moves}。"
    defs = (f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/>'
            f'</marker></defs>')
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" viewBox="0 0 {num(width)} {num(height)}" width="{num(width)}" '
        f'height="{num(height)}" font-family="{FONT}">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>{defs}'
        f'<g transform="translate(0 {num(shift)})">{"".join(paths)}{"".join(shapes)}{"".join(labels)}</g>'
        f'{legend}</svg>')
