"""The NGSI-LD query language (clause 4.9): ``q=`` parsed once into a tree and evaluated on stored
(expanded) entities.

Supported: terms joined by ``;`` (AND, binding tighter) and ``|`` (OR) with parentheses;
``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``~=`` and ``!~=`` (regular expressions); an attribute
alone (it exists); values that are numbers, quoted strings, ``true``/``false``, date-times, URIs,
lists (``a,b,c``: any of) and ranges (``a..b``); attribute paths ``attr.subAttr`` (a sub-attribute,
or a member such as ``observedAt``/``unitCode``) and ``attr[key][key]`` (inside a compound value)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hcmgov.ngsi.errors import BadRequestData

OPERATORS = ("==", "!=", ">=", "<=", "!~=", "~=", ">", "<")
MEMBERS = {"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"}
_NAME = re.compile(r"[A-Za-z0-9_:/#@\-]+")
MAX_Q = 2000


def _bad(why_vi: str, why_en: str) -> BadRequestData:
    return BadRequestData(f"q không hợp lệ: {why_vi}", f"Invalid q: {why_en}")


@dataclass(frozen=True)
class Path:
    attr: str  # a term, expanded by the caller
    sub: tuple[str, ...] = ()  # sub-attribute terms, or one member name at the end
    keys: tuple[str, ...] = ()  # keys inside the value


@dataclass(frozen=True)
class Term:
    path: Path
    op: str | None = None
    values: tuple[Any, ...] = ()
    low: Any = None
    high: Any = None
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Node:
    kind: str  # "and" | "or"
    items: tuple[Any, ...]


def _scalar(text: str) -> Any:
    text = text.strip()
    if not text:
        raise _bad("thiếu giá trị", "a value is missing")
    if text.startswith('"'):
        if len(text) < 2 or not text.endswith('"'):
            raise _bad("chuỗi chưa đóng", "unterminated string")
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return json.loads(text) if re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text) else _datetime_or_text(text)
    except ValueError:
        return text


def _datetime_or_text(text: str) -> Any:
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        except ValueError:
            return text
    return text


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def parse(self) -> Any:
        node = self.or_expr()
        if self.i != len(self.s):
            raise _bad(f"ký tự thừa ở vị trí {self.i}", f"unexpected character at {self.i}")
        return node

    def or_expr(self) -> Any:
        items = [self.and_expr()]
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Node("or", tuple(items))

    def and_expr(self) -> Any:
        items = [self.primary()]
        while self.i < len(self.s) and self.s[self.i] == ";":
            self.i += 1
            items.append(self.primary())
        return items[0] if len(items) == 1 else Node("and", tuple(items))

    def primary(self) -> Any:
        if self.i < len(self.s) and self.s[self.i] == "(":
            self.i += 1
            node = self.or_expr()
            if self.i >= len(self.s) or self.s[self.i] != ")":
                raise _bad("thiếu ')'", "missing ')'")
            self.i += 1
            return node
        return self.term()

    def _value_text(self) -> str:
        start, quoted = self.i, False
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == '"':
                quoted = not quoted
            elif not quoted and ch in ";|)":
                break
            self.i += 1
        if quoted:
            raise _bad("chuỗi chưa đóng", "unterminated string")
        return self.s[start : self.i]

    def term(self) -> Term:
        m = re.compile(r"[A-Za-z0-9_:/#@\-.\[\]]+").match(self.s, self.i)
        if not m:
            raise _bad(f"cần tên thuộc tính ở vị trí {self.i}", f"attribute name expected at {self.i}")
        self.i = m.end()
        path = _path(m.group(0))
        op = next((o for o in OPERATORS if self.s.startswith(o, self.i)), None)
        if op is None:
            return Term(path)
        self.i += len(op)
        raw = self._value_text()
        if op in ("~=", "!~="):
            try:
                return Term(path, op, pattern=re.compile(raw.strip().strip('"')[:200]))
            except re.error:
                raise _bad("biểu thức chính quy sai", "invalid regular expression") from None
        if op in ("==", "!=") and ".." in raw and not raw.strip().startswith('"'):
            low, _, high = raw.partition("..")
            return Term(path, op, low=_scalar(low), high=_scalar(high))
        if op in ("==", "!=") and "," in raw:
            return Term(path, op, values=tuple(_scalar(v) for v in _split_list(raw)))
        return Term(path, op, values=(_scalar(raw),))


def _split_list(raw: str) -> list[str]:
    out, current, quoted = [], "", False
    for ch in raw:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(current)
            current = ""
        else:
            current += ch
    out.append(current)
    return out


def _path(text: str) -> Path:
    keys: list[str] = []
    if "[" in text:
        head, _, rest = text.partition("[")
        if not rest.endswith("]"):
            raise _bad("đường dẫn thuộc tính sai", "invalid attribute path")
        keys = rest[:-1].split("][")
        text = head
    names = text.split(".")
    if not all(_NAME.fullmatch(n) for n in names) or not all(_NAME.fullmatch(k) for k in keys):
        raise _bad("tên thuộc tính sai", "invalid attribute name")
    return Path(names[0], tuple(names[1:]), tuple(keys))


def parse(text: str) -> Any:
    """Parse ``q`` into a tree of ``Node``/``Term``."""
    if not isinstance(text, str) or not text or len(text) > MAX_Q:
        raise _bad("rỗng hoặc quá dài", "empty or too long")
    return _Parser(text).parse()


def attributes(node: Any) -> set[str]:
    """The (top-level) attribute terms a query names."""
    if isinstance(node, Term):
        return {node.path.attr}
    return set().union(*(attributes(item) for item in node.items))


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    if isinstance(a, dict) and "@value" in a:
        a = a["@value"]
    if isinstance(b, dt.datetime):
        a = _datetime_or_text(a) if isinstance(a, str) else a
        return (a, b) if isinstance(a, dt.datetime) else None
    if isinstance(b, bool) or isinstance(a, bool):
        return (a, b) if isinstance(a, bool) and isinstance(b, bool) else None
    if isinstance(b, int | float):
        return (a, b) if isinstance(a, int | float) else None
    if isinstance(b, str):
        return (a, b) if isinstance(a, str) else None
    return None


def _compare(op: str, a: Any, term: Term) -> bool:
    if isinstance(a, list):
        hits = [_compare(op if op != "!=" else "==", item, term) for item in a]
        return any(hits) if op != "!=" else not any(hits)
    if term.pattern is not None:
        found = isinstance(a, str) and term.pattern.search(a) is not None
        return found if op == "~=" else not found
    if term.low is not None or term.high is not None:
        low, high = _comparable(a, term.low), _comparable(a, term.high)
        inside = bool(low and high and low[1] <= low[0] <= high[1])
        return inside if op == "==" else not inside
    results = []
    for value in term.values:
        pair = _comparable(a, value)
        if pair is None:
            results.append(op == "!=")
            continue
        x, y = pair
        results.append(
            {
                "==": x == y,
                "!=": x != y,
                ">": x > y,
                ">=": x >= y,
                "<": x < y,
                "<=": x <= y,
            }[op]
        )
    return all(results) if op == "!=" else any(results)


def _targets(attrs: dict[str, Any], path: Path, expand: Callable[[str], str]) -> list[Any]:
    """The values ``path`` reaches in an entity's stored attributes (one per instance)."""
    instances = list(attrs.get(expand(path.attr)) or [])
    for i, name in enumerate(path.sub):
        if i == len(path.sub) - 1 and name in MEMBERS:
            return [inst[name] for inst in instances if name in inst]
        sub = expand(name)
        instances = [inst[sub] for inst in instances if isinstance(inst.get(sub), dict)]
    out = []
    for inst in instances:
        value = inst.get("object") if inst.get("type") == "Relationship" else inst.get("value", inst.get("languageMap"))
        for key in path.keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            out.append(value)
    return out


def evaluate(node: Any, attrs: dict[str, Any], expand: Callable[[str], str]) -> bool:
    """Whether an entity (its stored attributes) matches the query."""
    if isinstance(node, Node):
        results = (evaluate(item, attrs, expand) for item in node.items)
        return all(results) if node.kind == "and" else any(results)
    values = _targets(attrs, node.path, expand)
    if node.op is None:
        return bool(values)
    if not values:
        return False
    return any(_compare(node.op, value, node) for value in values)
