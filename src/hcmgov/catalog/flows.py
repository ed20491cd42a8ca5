"""Processing flows as data: BPMN 2.0 files, drawn in any BPMN modeller, executed by SpiffWorkflow.

A flow is read with the platform's conventions (``docs/flows.md``):

* every step is a ``userTask`` in a **lane** named after the role that does it (``receiver``,
  ``specialist``, ``head``, ``leader``, ``clerk``), or with a ``role`` property;
* each step has a **time allotment** property ``allotment`` in working hours (``4h``) or working
  days (``1.5d``, 8 working hours a day); along the longest path they add up to the procedure's
  statutory time, receipt excluded (Decree 61/2018/NĐ-CP, Art. 18-20: the time is split between the
  agencies and steps that take part, and each step is controlled on Form 05);
* optional properties: ``actions`` (what the step's holder may decide, comma-separated), ``agency``
  (an inter-agency step: the kind of agency that does it, ``department:construction``, ``police``…),
  ``name_en``, ``status`` (the dossier status code while the step is open);
* exclusive gateways decide on the dossier: conditions are expressions over ``outcome`` (the
  decision taken at the step before) and the dossier's form fields, evaluated by a safe evaluator
  (simpleeval), never by Python's ``eval``: a flow file is data, not code.

Properties are read from ``extensionElements`` in the Camunda (``camunda:properties``) or
SpiffWorkflow (``spiffworkflow:properties``) form, whichever modeller drew the file.

``flow_parse`` refuses a malformed or unsupported file with every problem found and where
(element id and line).
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from simpleeval import EvalWithCompoundTypes, InvalidExpression
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnValidator
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.exceptions import SpiffWorkflowException

from hcmgov.common.errors import DomainError, FieldError, Message

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NS = {"bpmn": BPMN}
HOURS_PER_DAY = 8  # office hours of a working day (07:30-11:30, 13:00-17:00): Decree 45/2013, HCMC practice

ROLES: dict[str, Message] = {
    "receiver": Message("Cán bộ tiếp nhận (một cửa)", "One-stop desk officer"),
    "specialist": Message("Chuyên viên xử lý", "Specialist"),
    "head": Message("Lãnh đạo phòng", "Head of division"),
    "leader": Message("Lãnh đạo ký duyệt", "Leader who signs"),
    "clerk": Message("Văn thư trả kết quả", "Clerk who stamps and returns"),
}

# What a step's holder may decide. The decision is the ``outcome`` the gateways read.
ACTIONS: dict[str, Message] = {
    "receive": Message("Tiếp nhận hồ sơ", "Receive the dossier"),
    "refuse": Message("Từ chối tiếp nhận", "Refuse to receive"),
    "forward": Message("Chuyển bước tiếp theo", "Forward to the next step"),
    "approve": Message("Đồng ý, trình ký", "Approve and submit for signature"),
    "decline": Message("Không đủ điều kiện giải quyết", "Not eligible: answer with reasons"),
    "sign": Message("Ký duyệt kết quả", "Sign the result"),
    "return": Message("Trả kết quả", "Return the result"),
}
DEFAULT_ACTIONS: dict[str, tuple[str, ...]] = {
    "receiver": ("receive", "refuse"),
    "specialist": ("forward", "decline"),
    "head": ("approve", "decline"),
    "leader": ("sign", "decline"),
    "clerk": ("return",),
}
# Dossier status while a step of this role is open (status codes of the national portal); the
# receiving step keeps the dossier "new" until it is received, the clerk's step means "finished".
DEFAULT_STATUS: dict[str, int] = {"receiver": 1, "specialist": 4, "head": 4, "leader": 4, "clerk": 9}
AGENCY_KINDS = {"city_pc", "department", "district_pc", "commune_pc", "police"}
SUPPORTED = {
    "startEvent",
    "endEvent",
    "userTask",
    "exclusiveGateway",
    "sequenceFlow",
    "laneSet",
    "lane",
    "flowNodeRef",
    "conditionExpression",
    "extensionElements",
    "documentation",
    "incoming",
    "outgoing",
    "childLaneSet",
    "textAnnotation",
    "association",
    "text",
}
_ALLOTMENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([hd])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class StepSpec:
    """One step of a flow, as the back office sees it."""

    key: str
    name: str
    name_en: str
    role: str
    allotment: dt.timedelta  # working time
    actions: tuple[str, ...]
    status: int
    agency: str = ""  # "" = the receiving agency; else an agency kind selector (inter-agency step)
    line: int = 0


@dataclass(frozen=True)
class FlowSpec:
    """A parsed, checked flow. ``workflow_spec`` is SpiffWorkflow's; everything else is ours."""

    process_id: str
    name: str
    steps: dict[str, StepSpec]
    total: dt.timedelta  # working time along the longest path
    sha256: str
    workflow_spec: Any = field(repr=False, compare=False)
    condition_names: frozenset[str] = frozenset()

    def first_step(self) -> StepSpec:
        return next(iter(self.steps.values()))


class FlowError(DomainError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(
            code="invalid_flow",
            message=Message(
                "Tệp quy trình không hợp lệ: " + "; ".join(e.message.vi for e in errors[:5]),
                "The flow file is not valid: " + "; ".join(e.message.en for e in errors[:5]),
            ),
            status=422,
            errors=errors,
        )


def _err(where: str, code: str, vi: str, en: str) -> FieldError:
    return FieldError(where, code, Message(vi, en))


def _where(el: Any) -> str:
    return f"{el.get('id') or etree.QName(el).localname} (dòng/line {el.sourceline})"


# --- safe conditions -----------------------------------------------------------------------------

_ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
)


def condition_names(expression: str) -> set[str]:
    """The names a condition reads; raises ``ValueError`` for anything but a plain expression
    (no calls, attributes, subscripts, lambdas, comprehensions)."""
    tree = ast.parse(expression.strip(), mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(type(node).__name__)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - {"True", "False", "None"}


def condition_name(field: str) -> str:
    """A form field as a condition reads it: ``mother.full_name`` → ``mother__full_name``."""
    return field.replace(".", "__")


def condition_facts(form_data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The dossier's form as the names conditions read (scalars and lists; nested objects flattened)."""
    facts: dict[str, Any] = {}
    for key, value in form_data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            facts.update(condition_facts(value, prefix=f"{name}__"))
        elif isinstance(value, str | int | float | bool | list) or value is None:
            facts[name] = value
    return facts


class SafeScriptEngine(PythonScriptEngine):
    """Gateway conditions through simpleeval over the task's data; scripts are never run."""

    def validate(self, expression: str) -> None:
        condition_names(expression)

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        names = {k: v for k, v in task.data.items() if isinstance(v, str | int | float | bool | list | type(None))}
        names.setdefault("outcome", "")
        try:
            condition_names(expression)
            return EvalWithCompoundTypes(names=_Defaulting(names), functions={}).eval(expression.strip())
        except TypeError:  # comparing an empty field with a number, "in" on a missing list: no match
            return False
        except (InvalidExpression, ValueError, SyntaxError) as exc:
            raise SpiffWorkflowException(f"condition {expression!r}: {exc}") from exc

    def execute(self, task: Any, script: str, external_context: Any = None) -> Any:
        raise SpiffWorkflowException("scripts are not run by this platform")


class _Defaulting(dict[str, Any]):
    """A form field the applicant left empty reads as None rather than failing the gateway."""

    def __missing__(self, key: str) -> None:
        return None


SCRIPT_ENGINE = SafeScriptEngine()


# --- parsing -------------------------------------------------------------------------------------


def _properties(el: Any) -> dict[str, str]:
    """``name → value`` from camunda:/spiffworkflow: (or any namespace's) ``property`` elements."""
    found: dict[str, str] = {}
    for ext in el.findall("bpmn:extensionElements", NS):
        for prop in ext.iter():
            if isinstance(prop.tag, str) and etree.QName(prop).localname == "property" and prop.get("name"):
                found[prop.get("name")] = (prop.get("value") or prop.text or "").strip()
    return found


def parse_allotment(text: str) -> dt.timedelta:
    match = _ALLOTMENT.match(text or "")
    if not match:
        raise ValueError(text)
    amount = float(match.group(1))
    hours = amount * HOURS_PER_DAY if match.group(2).lower() == "d" else amount
    if hours <= 0:
        raise ValueError(text)
    return dt.timedelta(hours=hours)


def flow_parse(
    content: bytes | str,
    *,
    filename: str = "flow.bpmn",
    statutory_days: int | None = None,
    form_fields: set[str] | None = None,
) -> FlowSpec:
    """Read and check a BPMN file; raise :class:`FlowError` listing every problem and where.

    ``statutory_days`` (the procedure's time limit) checks that the allotments fill it exactly
    (same-day procedures: at most one working day); ``form_fields`` checks the names conditions read.
    """
    raw = content.encode() if isinstance(content, str) else content
    return _parse_cached(raw, filename, statutory_days, frozenset(form_fields) if form_fields is not None else None)


@functools.lru_cache(maxsize=256)
def _parse_cached(
    raw: bytes, filename: str, statutory_days: int | None, form_fields: frozenset[str] | None
) -> FlowSpec:
    errors: list[FieldError] = []
    try:
        root = etree.fromstring(raw, parser=etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        raise FlowError(
            [_err(f"line {exc.lineno}", "malformed_xml", f"XML hỏng: {exc.msg}", f"Malformed XML: {exc.msg}")]
        ) from None
    if etree.QName(root).namespace != BPMN or etree.QName(root).localname != "definitions":
        raise FlowError(
            [_err("definitions", "not_bpmn", "Tệp không phải BPMN 2.0.", "The file is not a BPMN 2.0 document.")]
        )
    try:
        BpmnValidator().validate(etree.ElementTree(root), filename)
    except ValidationException as exc:
        line = getattr(exc, "line_number", "")
        raise FlowError(
            [_err(f"line {line}", "schema", f"Sai lược đồ BPMN 2.0: {exc}", f"Not valid against BPMN 2.0: {exc}")]
        ) from None
    processes = [p for p in root.findall("bpmn:process", NS) if p.get("isExecutable", "true") != "false"]
    if len(processes) != 1:
        raise FlowError(
            [
                _err(
                    "definitions",
                    "one_process",
                    f"Cần đúng một quy trình thực thi được, có {len(processes)}.",
                    f"Exactly one executable process is needed, found {len(processes)}.",
                )
            ]
        )
    process = processes[0]
    for el in process.iter():
        if not isinstance(el.tag, str) or el is process:
            continue
        qn = etree.QName(el)
        if qn.namespace == BPMN and qn.localname not in SUPPORTED:
            errors.append(
                _err(
                    _where(el),
                    "unsupported",
                    f"Phần tử «{qn.localname}» chưa được hỗ trợ trong quy trình một cửa.",
                    f"Element “{qn.localname}” is not supported in a one-stop-shop flow.",
                )
            )
        if (
            qn.namespace == BPMN
            and qn.localname in {"startEvent", "endEvent"}
            and len([c for c in el if isinstance(c.tag, str) and etree.QName(c).localname.endswith("EventDefinition")])
        ):
            errors.append(
                _err(
                    _where(el),
                    "unsupported_event",
                    "Chỉ hỗ trợ sự kiện bắt đầu/kết thúc thường.",
                    "Only plain start and end events are supported.",
                )
            )
    lanes = {
        ref.text.strip(): (lane.get("name") or lane.get("id") or "").strip()
        for lane in process.iter(f"{{{BPMN}}}lane")
        for ref in lane.findall("bpmn:flowNodeRef", NS)
        if ref.text
    }
    steps: dict[str, StepSpec] = {}
    for task in process.iter(f"{{{BPMN}}}userTask"):
        key, props = task.get("id"), _properties(task)
        where = _where(task)
        role = props.get("role") or lanes.get(key, "")
        if role not in ROLES:
            errors.append(
                _err(
                    where,
                    "role",
                    f"Bước «{key}»: vai trò «{role}» không hợp lệ (cần một trong {', '.join(ROLES)}).",
                    f"Step “{key}”: role “{role}” is not one of {', '.join(ROLES)} (lane name or role property).",
                )
            )
            continue
        try:
            allotment = parse_allotment(props.get("allotment", ""))
        except ValueError:
            errors.append(
                _err(
                    where,
                    "allotment",
                    f"Bước «{key}»: thiếu hoặc sai thời gian xử lý (allotment, vd. 4h, 2d).",
                    f"Step “{key}”: missing or invalid time allotment (allotment, e.g. 4h, 2d).",
                )
            )
            continue
        actions = (
            tuple(a.strip() for a in props["actions"].split(",") if a.strip())
            if props.get("actions")
            else (DEFAULT_ACTIONS[role])
        )
        unknown = [a for a in actions if a not in ACTIONS]
        if unknown or not actions:
            errors.append(
                _err(
                    where,
                    "actions",
                    f"Bước «{key}»: thao tác không hợp lệ: {', '.join(unknown) or '(trống)'}.",
                    f"Step “{key}”: unknown actions: {', '.join(unknown) or '(none)'}.",
                )
            )
        agency = props.get("agency", "")
        if agency and agency.split(":", 1)[0] not in AGENCY_KINDS:
            errors.append(
                _err(
                    where,
                    "agency",
                    f"Bước «{key}»: loại cơ quan «{agency}» không hợp lệ.",
                    f"Step “{key}”: agency kind “{agency}” is not known ({', '.join(sorted(AGENCY_KINDS))}).",
                )
            )
        status = DEFAULT_STATUS[role]
        if props.get("status"):
            try:
                status = int(props["status"])
                if status not in (1, 4, 9):
                    raise ValueError
            except ValueError:
                errors.append(
                    _err(
                        where,
                        "status",
                        f"Bước «{key}»: trạng thái phải là 1, 4 hoặc 9.",
                        f"Step “{key}”: status must be 1, 4 or 9.",
                    )
                )
        steps[key] = StepSpec(
            key=key,
            name=(task.get("name") or key).strip(),
            name_en=props.get("name_en", "") or (task.get("name") or key).strip(),
            role=role,
            allotment=allotment,
            actions=actions,
            status=status,
            agency=agency,
            line=task.sourceline or 0,
        )
    names: set[str] = set()
    for cond in process.iter(f"{{{BPMN}}}conditionExpression"):
        flow_el = cond.getparent()
        try:
            names |= condition_names(cond.text or "")
        except (SyntaxError, ValueError) as exc:
            errors.append(
                _err(
                    _where(flow_el),
                    "condition",
                    f"Điều kiện «{(cond.text or '').strip()}» không hợp lệ ({exc}).",
                    f"Condition “{(cond.text or '').strip()}” is not a plain expression ({exc}).",
                )
            )
    allowed = {"outcome"} | (set(form_fields) if form_fields is not None else names)
    for name in sorted(names - allowed):
        errors.append(
            _err(
                name,
                "condition_name",
                f"Điều kiện đọc «{name}», không phải trường của hồ sơ.",
                f"A condition reads “{name}”, which is not a field of the dossier.",
            )
        )
    if not steps and not errors:
        errors.append(_err("process", "no_steps", "Quy trình không có bước nào.", "The flow has no steps."))
    errors += _check_graph(process, steps)
    spiff_spec = None
    if not errors:
        parser = BpmnParser()
        try:
            parser.add_bpmn_xml(etree.ElementTree(root), filename=filename)
            spiff_spec = parser.get_spec(process.get("id"))
        except ValidationException as exc:
            errors.append(_err(f"{exc.id} (line {exc.line_number})", "bpmn", f"Lỗi BPMN: {exc}", f"BPMN error: {exc}"))
    total = _longest(process, steps) if not errors else dt.timedelta(0)
    if not errors and statutory_days is not None:
        limit = dt.timedelta(hours=max(statutory_days, 1) * HOURS_PER_DAY)
        if (statutory_days > 0 and total != limit) or total > limit:
            have, want = total.total_seconds() / 3600, limit.total_seconds() / 3600
            errors.append(
                _err(
                    "process",
                    "allotments",
                    f"Tổng thời gian các bước ({have:g} giờ làm việc) phải bằng thời hạn giải quyết "
                    f"({statutory_days} ngày làm việc = {want:g} giờ)."
                    if statutory_days
                    else f"Tổng thời gian các bước ({have:g} giờ) vượt quá một ngày làm việc.",
                    f"The steps' allotments add up to {have:g} working hours; the statutory time is "
                    f"{statutory_days} working days = {want:g} hours."
                    if statutory_days
                    else f"The steps' allotments ({have:g} hours) exceed one working day.",
                )
            )
    if errors:
        raise FlowError(errors)
    return FlowSpec(
        process_id=process.get("id"),
        name=(process.get("name") or process.get("id")).strip(),
        steps=steps,
        total=total,
        sha256=hashlib.sha256(raw).hexdigest(),
        workflow_spec=spiff_spec,
        condition_names=frozenset(names),
    )


def _graph(process: Any) -> tuple[dict[str, list[str]], dict[str, Any]]:
    nodes = {el.get("id"): el for el in process if isinstance(el.tag, str) and el.get("id")}
    out: dict[str, list[str]] = {key: [] for key in nodes}
    for flow in process.findall("bpmn:sequenceFlow", NS):
        out.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    return out, nodes


def _check_graph(process: Any, steps: dict[str, StepSpec]) -> list[FieldError]:
    errors: list[FieldError] = []
    out, nodes = _graph(process)
    starts = [k for k, el in nodes.items() if etree.QName(el).localname == "startEvent"]
    if len(starts) != 1:
        return [_err("process", "start", "Cần đúng một sự kiện bắt đầu.", "Exactly one start event is needed.")]
    first = out.get(starts[0], [])
    if len(first) != 1 or first[0] not in steps or steps[first[0]].role != "receiver":
        errors.append(
            _err(
                _where(nodes[starts[0]]),
                "first_step",
                "Bước đầu tiên phải là tiếp nhận hồ sơ (vai trò receiver).",
                "The first step must be the desk's receipt (role receiver).",
            )
        )
    elif "receive" not in steps[first[0]].actions:
        errors.append(
            _err(
                first[0],
                "first_step",
                "Bước tiếp nhận phải cho phép «receive».",
                "The receiving step must allow “receive”.",
            )
        )
    if not any("return" in s.actions for s in steps.values()):
        errors.append(
            _err(
                "process",
                "no_return",
                "Không có bước trả kết quả (thao tác return).",
                "No step returns the result (action “return”).",
            )
        )
    seen, stack = set(), [starts[0]]
    while stack:
        key = stack.pop()
        if key in seen:
            continue
        seen.add(key)
        stack.extend(out.get(key, []))
    for key, el in nodes.items():
        kind = etree.QName(el).localname
        if kind in {"userTask", "exclusiveGateway", "endEvent"} and key not in seen:
            errors.append(
                _err(
                    _where(el),
                    "unreachable",
                    f"«{key}» không đến được từ điểm bắt đầu.",
                    f"“{key}” cannot be reached from the start.",
                )
            )
        if kind in {"userTask", "exclusiveGateway", "startEvent"} and not out.get(key):
            errors.append(_err(_where(el), "dead_end", f"«{key}» không có luồng đi ra.", f"“{key}” has no way out."))
        if kind == "exclusiveGateway" and len(out.get(key, [])) > 1:
            flows = [f for f in process.findall("bpmn:sequenceFlow", NS) if f.get("sourceRef") == key]
            unconditioned = [
                f.get("id")
                for f in flows
                if f.find("bpmn:conditionExpression", NS) is None and f.get("id") != el.get("default")
            ]
            if unconditioned:
                errors.append(
                    _err(
                        _where(el),
                        "gateway",
                        f"Cổng «{key}»: luồng {', '.join(unconditioned)} thiếu điều kiện.",
                        f"Gateway “{key}”: flows {', '.join(unconditioned)} have no condition and are not the default.",
                    )
                )
    return errors


def _longest(process: Any, steps: dict[str, StepSpec]) -> dt.timedelta:
    """Working time along the longest path from receipt to an end, loops (sending back) left out."""
    out, nodes = _graph(process)
    start = next(k for k, el in nodes.items() if etree.QName(el).localname == "startEvent")
    memo: dict[str, dt.timedelta] = {}

    def walk(key: str, path: frozenset[str]) -> dt.timedelta:
        if key in memo:
            return memo[key]
        # the receiving step runs before the legal clock starts (it starts at receipt)
        own = steps[key].allotment if key in steps and steps[key].status != 1 else dt.timedelta(0)
        nxt = [walk(n, path | {key}) for n in out.get(key, []) if n not in path and n != key]
        memo[key] = own + max(nxt, default=dt.timedelta(0))
        return memo[key]

    return walk(start, frozenset())


# --- state ---------------------------------------------------------------------------------------

SERIALIZER = BpmnWorkflowSerializer()
SERIALIZER_VERSION: str = SERIALIZER.VERSION
