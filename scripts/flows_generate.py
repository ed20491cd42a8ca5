#!/usr/bin/env python3
"""Generate the processing flow (BPMN 2.0 with diagram) of every seeded procedure from scripts/flows.yaml.

    .venv/bin/python scripts/flows_generate.py            # write src/hcmgov/catalog/data/flows/<code>.bpmn
    .venv/bin/python scripts/flows_generate.py --check    # write nothing; fail if a file is missing or differs
    .venv/bin/python scripts/flows_generate.py 1.001193   # only these procedures

Each flow is built from its compact description (the receipt, the refusal gateway and the end events
are added here), laid out as a pool with one horizontal lane per role and the steps left to right, and
checked with ``hcmgov.catalog.flows.flow_parse`` against the procedure's ``statutory_days`` and the flat
names of its form's fields. Inter-agency steps are checked against the agency kinds and the current
department keys of ``core/data/agencies/hcmc-agencies.json``. Any problem: message on stderr, exit 1.
Output is deterministic (same input, same bytes), so ``--check`` can run in CI.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from hcmgov.catalog.flows import ROLES, FlowError, flow_parse  # noqa: E402
from hcmgov.common.jsonform import flat_fields  # noqa: E402

SPEC = ROOT / "scripts" / "flows.yaml"
PROCEDURES = ROOT / "src" / "hcmgov" / "catalog" / "data" / "procedures"
AGENCIES = ROOT / "src" / "hcmgov" / "core" / "data" / "agencies" / "hcmc-agencies.json"
OUT = ROOT / "src" / "hcmgov" / "catalog" / "data" / "flows"

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
NSMAP = {"bpmn": BPMN, "bpmndi": BPMNDI, "dc": DC, "di": DI, "camunda": CAMUNDA, "xsi": XSI}

LANE_ORDER = list(ROLES)  # receiver, specialist, head, leader, clerk
RECEIPT_ID, RECEIPT_GATEWAY = "tiep_nhan", "gw_tiep_nhan"
START_ID, END_REFUSED, END_DONE = "bat_dau", "ket_thuc_tu_choi", "ket_thuc"

# Layout (pixels): a pool, lanes as horizontal bands, one column per step along the longest path.
POOL_X, POOL_Y, POOL_LABEL, LANE_LABEL = 160, 80, 30, 30
COL_W, ROW_H = 190, 130
TASK_W, TASK_H, EVENT, GATEWAY = 150, 90, 36, 50
FIRST_CX = POOL_X + POOL_LABEL + LANE_LABEL + 50


class SpecError(Exception):
    pass


@dataclass
class Node:
    id: str
    kind: str  # startEvent | userTask | exclusiveGateway | endEvent
    name: str
    lane: str = ""
    props: dict[str, str] = field(default_factory=dict)
    default_flow: str = ""
    incoming: list[str] = field(default_factory=list)
    outgoing: list[str] = field(default_factory=list)
    col: int = 0
    row: int = 0


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str = ""


@dataclass
class Graph:
    code: str
    procedure: dict[str, Any]
    participant: str
    documentation: str
    nodes: dict[str, Node]
    flows: list[Flow]


# --- reading the compact description ---------------------------------------------------------------


def current_departments() -> set[str]:
    agencies = json.loads(AGENCIES.read_text(encoding="utf-8"))["agencies"]
    return {a["department"] for a in agencies if a["kind"] == "department" and not a.get("valid_to")}


def check_agency(where: str, agency: str, departments: set[str]) -> None:
    kind, _, key = agency.partition(":")
    if kind not in {"city_pc", "department", "district_pc", "commune_pc", "police"}:
        raise SpecError(f"{where}: agency kind {kind!r} is not known")
    if kind == "department" and key not in departments:
        raise SpecError(f"{where}: department {key!r} is not a current department of hcmc-agencies.json")
    if kind != "department" and key:
        raise SpecError(f"{where}: only departments take a key ({agency!r})")


def build(code: str, entry: dict[str, Any], spec: dict[str, Any], departments: set[str]) -> Graph:
    procedure = yaml.safe_load((PROCEDURES / f"{code}.yaml").read_text(encoding="utf-8"))
    home = spec["homes"][entry["home"]]
    receipt = {**home["receipt"], **entry.get("receipt", {})}
    nodes: dict[str, Node] = {}
    flows: list[Flow] = []

    def add(node: Node) -> Node:
        if node.id in nodes:
            raise SpecError(f"{code}: node id {node.id!r} is used twice")
        nodes[node.id] = node
        return node

    def connect(source: str, target: str, name: str = "", condition: str = "") -> Flow:
        flow = Flow(f"Flow_{source}__{target}", source, target, name, condition)
        if any(f.id == flow.id for f in flows):
            raise SpecError(f"{code}: two flows from {source!r} to {target!r}")
        flows.append(flow)
        return flow

    def task_props(item: dict[str, Any]) -> dict[str, str]:
        props = {
            "allotment": str(item["allotment"]),
            "actions": item.get("actions") or spec["lane_actions"][item["lane"]],
            "name_en": item["name_en"],
        }
        if item.get("agency"):
            check_agency(f"{code}/{item['id']}", item["agency"], departments)
            props["agency"] = item["agency"]
        return props

    add(Node(START_ID, "startEvent", "Nộp hồ sơ", lane="receiver"))
    add(
        Node(
            RECEIPT_ID,
            "userTask",
            receipt["name"],
            lane="receiver",
            props={
                "allotment": str(receipt.get("allotment") or spec["receipt_allotment"]),
                "actions": "receive,refuse",
                "name_en": receipt["name_en"],
            },
        )
    )
    add(Node(RECEIPT_GATEWAY, "exclusiveGateway", "Tiếp nhận?", lane="receiver"))
    add(Node(END_REFUSED, "endEvent", "Từ chối tiếp nhận", lane="receiver"))
    connect(START_ID, RECEIPT_ID)
    connect(RECEIPT_ID, RECEIPT_GATEWAY)
    connect(RECEIPT_GATEWAY, END_REFUSED, "Từ chối tiếp nhận", 'outcome == "refuse"')

    items = entry["nodes"]
    ids = [item.get("id") or item.get("gateway") for item in items]
    reserved = {START_ID, RECEIPT_ID, RECEIPT_GATEWAY, END_REFUSED, END_DONE}
    for item, key in zip(items, ids, strict=True):
        if not key or key in reserved:
            raise SpecError(f"{code}: node without an id, or with a reserved one: {item}")
        if "gateway" in item:
            add(Node(key, "exclusiveGateway", item["name"]))
            continue
        missing = {"lane", "name", "name_en", "allotment"} - set(item)
        if missing:
            raise SpecError(f"{code}/{key}: missing {', '.join(sorted(missing))}")
        if item["lane"] not in ROLES or item["lane"] == "receiver":
            raise SpecError(f"{code}/{key}: lane {item['lane']!r} is not a role after receipt")
        add(Node(key, "userTask", item["name"], lane=item["lane"], props=task_props(item)))
    nodes[RECEIPT_GATEWAY].default_flow = connect(RECEIPT_GATEWAY, ids[0], "Tiếp nhận").id

    ends_here = False
    for index, (item, key) in enumerate(zip(items, ids, strict=True)):
        if "gateway" in item:
            defaults = [r for r in item["routes"] if r.get("default")]
            if len(defaults) > 1 or any(bool(r.get("default")) == bool(r.get("when")) for r in item["routes"]):
                raise SpecError(f"{code}/{key}: each route needs `when` or `default: true`, one default at most")
            for route in item["routes"]:
                target = END_DONE if route["to"] == "end" else route["to"]
                flow = connect(key, target, route.get("name", ""), route.get("when", ""))
                if route.get("default"):
                    nodes[key].default_flow = flow.id
            continue
        target = item.get("next") or (ids[index + 1] if index + 1 < len(ids) else "end")
        if target == "end":
            target, ends_here = END_DONE, True
        connect(key, target)
    if not ends_here and not any(f.target == END_DONE for f in flows):
        raise SpecError(f"{code}: no step leads to the end")
    add(Node(END_DONE, "endEvent", "Đã trả kết quả"))
    for flow in flows:
        if flow.target not in nodes:
            raise SpecError(f"{code}: {flow.source!r} leads to unknown node {flow.target!r}")
        nodes[flow.source].outgoing.append(flow.id)
        nodes[flow.target].incoming.append(flow.id)

    documentation = entry["doc_vi"].strip() + "\n\n" + entry["doc_en"].strip()
    participant = entry.get("participant") or home["participant"]
    return Graph(code, procedure, participant, documentation, nodes, flows)


# --- layout ----------------------------------------------------------------------------------------


def layout(graph: Graph) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """Columns by longest distance from the start; lanes in role order, a node that shares its lane
    and column with another goes one row down. Gateways and the final end event sit in the lane of the
    node before them. Returns the lanes used, each lane's top (y) and height."""
    nodes, flows = graph.nodes, graph.flows
    preds: dict[str, list[str]] = {key: [] for key in nodes}
    for flow in flows:
        preds[flow.target].append(flow.source)
    order = list(nodes)  # insertion order follows the description, predecessors first except joins
    col: dict[str, int] = {}

    def column(key: str) -> int:
        if key not in col:
            col[key] = 1 + max((column(p) for p in preds[key]), default=-1)
        return col[key]

    for key in order:
        nodes[key].col = column(key)
    succs: dict[str, list[str]] = {key: [] for key in nodes}
    for flow in flows:
        succs[flow.source].append(flow.target)
    for key in sorted(order, key=lambda k: nodes[k].col):
        node = nodes[key]
        if node.lane:
            continue
        before = nodes[preds[key][0]]
        if before.kind == "userTask" or node.kind == "endEvent":
            node.lane = before.lane
        else:  # a gateway after a gateway: with the step it leads to by default
            default = next((f.target for f in flows if f.id == node.default_flow), succs[key][0])
            node.lane = nodes[default].lane
    taken: dict[tuple[str, int], int] = {}
    for key in order:
        node = nodes[key]
        node.row = taken.get((node.lane, node.col), 0)
        taken[(node.lane, node.col)] = node.row + 1
    lanes = [lane for lane in LANE_ORDER if any(n.lane == lane for n in nodes.values())]
    tops, heights, y = {}, {}, POOL_Y
    for lane in lanes:
        rows = max(n.row for n in nodes.values() if n.lane == lane) + 1
        tops[lane], heights[lane] = y, rows * ROW_H
        y += heights[lane]
    return lanes, tops, heights


def size(node: Node) -> tuple[int, int]:
    if node.kind == "userTask":
        return TASK_W, TASK_H
    if node.kind == "exclusiveGateway":
        return GATEWAY, GATEWAY
    return EVENT, EVENT


def centre(node: Node, tops: dict[str, int]) -> tuple[int, int]:
    return FIRST_CX + node.col * COL_W, tops[node.lane] + ROW_H // 2 + node.row * ROW_H


def routes(graph: Graph, tops: dict[str, int]) -> dict[str, list[tuple[int, int]]]:
    """Orthogonal waypoints of every flow. Straight when source and target share a row; a gateway is
    left by its top or bottom corner; a step is left to the right and turns in the gap after its
    column. Flows turning in the same gap get distinct x, the one going lower turning first, so that
    parallel branches do not run over each other."""
    nodes = graph.nodes
    points: dict[str, list[tuple[int, int]]] = {}
    turning: dict[int, list[Flow]] = {}
    for flow in graph.flows:
        source, target = nodes[flow.source], nodes[flow.target]
        (sx, sy), (tx, ty) = centre(source, tops), centre(target, tops)
        (sw, sh), (tw, _) = size(source), size(target)
        if sy == ty:
            points[flow.id] = [(sx + sw // 2, sy), (tx - tw // 2, ty)]
        elif source.kind == "exclusiveGateway":
            points[flow.id] = [(sx, sy + (sh // 2 if ty > sy else -sh // 2)), (sx, ty), (tx - tw // 2, ty)]
        else:
            turning.setdefault(source.col, []).append(flow)
    for col, group in turning.items():
        group.sort(key=lambda f: (-centre(nodes[f.target], tops)[1], f.id))
        for k, flow in enumerate(group):
            source, target = nodes[flow.source], nodes[flow.target]
            (sx, sy), (tx, ty) = centre(source, tops), centre(target, tops)
            (sw, _), (tw, _) = size(source), size(target)
            gap_start = FIRST_CX + col * COL_W + TASK_W // 2
            bend = gap_start + (COL_W - TASK_W) * (k + 1) // (len(group) + 1)
            points[flow.id] = [(sx + sw // 2, sy), (bend, sy), (bend, ty), (tx - tw // 2, ty)]
    return points


def edge_label(points: list[tuple[int, int]]) -> tuple[int, int, int, int]:
    """Beside the start of the flow: above a straight exit, right of a downward or upward one."""
    (x1, y1), (_, y2) = points[0], points[1]
    width = COL_W - GATEWAY // 2 - TASK_W // 2 - 8
    if y1 == y2:
        return x1 + 4, y1 - 44, width, 40
    return x1 + 6, (y1 + 4 if y2 > y1 else y1 - 44), width, 40


# --- XML -------------------------------------------------------------------------------------------


def q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def sub(parent: Any, ns: str, tag: str, text: str | None = None, **attrs: Any) -> Any:
    el = etree.SubElement(parent, q(ns, tag), {k: str(v) for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def bounds(parent: Any, x: int, y: int, w: int, h: int) -> None:
    sub(parent, DC, "Bounds", x=x, y=y, width=w, height=h)


def render(graph: Graph) -> bytes:
    code, nodes = graph.code, graph.nodes
    lanes, tops, heights = layout(graph)
    pid = "flow_" + code.replace(".", "_")
    collaboration_id, participant_id = f"Collaboration_{pid}", f"Participant_{pid}"

    root = etree.Element(
        q(BPMN, "definitions"),
        {
            "id": f"Definitions_{pid}",
            "targetNamespace": "urn:hcmgov:flows",
            "exporter": "hcmgov scripts/flows_generate.py",
            "exporterVersion": "1",
        },
        nsmap=NSMAP,
    )
    collaboration = sub(root, BPMN, "collaboration", id=collaboration_id)
    sub(collaboration, BPMN, "participant", id=participant_id, name=graph.participant, processRef=pid)
    process = sub(root, BPMN, "process", id=pid, name=graph.procedure["name"], isExecutable="true")
    sub(process, BPMN, "documentation", graph.documentation)
    lane_set = sub(process, BPMN, "laneSet", id=f"LaneSet_{pid}")
    for lane in lanes:
        lane_el = sub(lane_set, BPMN, "lane", id=f"Lane_{lane}", name=lane)
        sub(lane_el, BPMN, "documentation", f"{ROLES[lane].vi} / {ROLES[lane].en}")
        for node in nodes.values():
            if node.lane == lane:
                sub(lane_el, BPMN, "flowNodeRef", node.id)
    for node in nodes.values():
        attrs = {"id": node.id, "name": node.name}
        if node.default_flow:
            attrs["default"] = node.default_flow
        el = sub(process, BPMN, node.kind, **attrs)
        if node.props:
            properties = sub(sub(el, BPMN, "extensionElements"), CAMUNDA, "properties")
            for name in ("allotment", "actions", "agency", "name_en"):
                if name in node.props:
                    sub(properties, CAMUNDA, "property", name=name, value=node.props[name])
        for flow_id in node.incoming:
            sub(el, BPMN, "incoming", flow_id)
        for flow_id in node.outgoing:
            sub(el, BPMN, "outgoing", flow_id)
    for flow in graph.flows:
        attrs = {"id": flow.id, "sourceRef": flow.source, "targetRef": flow.target}
        if flow.name:
            attrs["name"] = flow.name
        el = sub(process, BPMN, "sequenceFlow", **attrs)
        if flow.condition:
            condition = sub(el, BPMN, "conditionExpression", flow.condition)
            condition.set(q(XSI, "type"), "bpmn:tFormalExpression")

    diagram = sub(root, BPMNDI, "BPMNDiagram", id=f"BPMNDiagram_{pid}")
    plane = sub(diagram, BPMNDI, "BPMNPlane", id=f"BPMNPlane_{pid}", bpmnElement=collaboration_id)
    last_col = max(n.col for n in nodes.values())
    pool_w = (FIRST_CX - POOL_X) + last_col * COL_W + TASK_W // 2 + 40
    pool_h = sum(heights.values())
    shape = sub(plane, BPMNDI, "BPMNShape", id=f"{participant_id}_di", bpmnElement=participant_id, isHorizontal="true")
    bounds(shape, POOL_X, POOL_Y, pool_w, pool_h)
    for lane in lanes:
        shape = sub(plane, BPMNDI, "BPMNShape", id=f"Lane_{lane}_di", bpmnElement=f"Lane_{lane}", isHorizontal="true")
        bounds(shape, POOL_X + POOL_LABEL, tops[lane], pool_w - POOL_LABEL, heights[lane])
    for node in nodes.values():
        (cx, cy), (w, h) = centre(node, tops), size(node)
        attrs = {"id": f"{node.id}_di", "bpmnElement": node.id}
        if node.kind == "exclusiveGateway":
            attrs["isMarkerVisible"] = "true"
        shape = sub(plane, BPMNDI, "BPMNShape", **attrs)
        bounds(shape, cx - w // 2, cy - h // 2, w, h)
        if node.kind == "exclusiveGateway":  # external label: above left of a gateway, below an event
            bounds(sub(shape, BPMNDI, "BPMNLabel"), cx - 130, cy - h // 2 - 34, 120, 40)
        elif node.kind != "userTask":
            bounds(sub(shape, BPMNDI, "BPMNLabel"), cx - 60, cy + h // 2 + 6, 120, 27)
    paths = routes(graph, tops)
    for flow in graph.flows:
        edge = sub(plane, BPMNDI, "BPMNEdge", id=f"{flow.id}_di", bpmnElement=flow.id)
        for x, y in paths[flow.id]:
            sub(edge, DI, "waypoint", x=x, y=y)
        if flow.name:
            bounds(sub(edge, BPMNDI, "BPMNLabel"), *edge_label(paths[flow.id]))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, pretty_print=True, encoding="UTF-8")


# --- main ------------------------------------------------------------------------------------------


def summary(graph: Graph, total_hours: float) -> str:
    steps = [
        f"{n.id}[{n.lane}{' @' + n.props['agency'] if 'agency' in n.props else ''} {n.props['allotment']}]"
        for n in graph.nodes.values()
        if n.kind == "userTask"
    ]
    gateways = [f.condition for f in graph.flows if f.condition and f.source != RECEIPT_GATEWAY]
    branch = f"  branches on: {'; '.join(gateways)}" if gateways else ""
    return f"{graph.code}  {total_hours:g}h  " + " > ".join(steps) + branch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("codes", nargs="*", help="procedure codes (default: all)")
    parser.add_argument("--check", action="store_true", help="write nothing; fail if a file is missing or differs")
    parser.add_argument("--quiet", action="store_true", help="print problems only")
    args = parser.parse_args(argv)

    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    described = spec["flows"]
    seeded = sorted(p.stem for p in PROCEDURES.glob("*.yaml"))
    problems = [f"{code}: seeded procedure without a flow in {SPEC.name}" for code in seeded if code not in described]
    problems += [f"{code}: flow for a procedure that is not seeded" for code in described if code not in seeded]
    codes = args.codes or [c for c in seeded if c in described]
    departments = current_departments()
    if not args.check:
        OUT.mkdir(parents=True, exist_ok=True)
    for code in codes:
        if code not in described:
            problems.append(f"{code}: not described in {SPEC.name}")
            continue
        try:
            graph = build(code, described[code], spec, departments)
            content = render(graph)
            procedure = graph.procedure
            fields = {f.name for f in flat_fields(procedure["form_schema"])}
            parsed = flow_parse(
                content,
                filename=f"{code}.bpmn",
                statutory_days=int(procedure["statutory_days"]),
                form_fields=fields,
            )
        except SpecError as exc:
            problems.append(str(exc))
            continue
        except FlowError as exc:
            problems += [f"{code}: {e.field}: {e.message.en}" for e in exc.errors]
            continue
        path = OUT / f"{code}.bpmn"
        if args.check:
            if not path.exists() or path.read_bytes() != content:
                problems.append(f"{code}: {path.relative_to(ROOT)} is missing or out of date")
        else:
            path.write_bytes(content)
        if not args.quiet:
            print(summary(graph, parsed.total.total_seconds() / 3600))
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
