"""CKAN's ``package_search`` over the catalogue's own tables, without Solr: ``q`` and ``fq`` in
Solr's query syntax (read by the small recursive-descent parser below, turned into one SQL
filter), ``sort``, ``rows``/``start``, facets counted by SQL ``GROUP BY`` on the filtered set, and
the result in CKAN 2.10's shape (``count``, ``results``, ``facets``, ``search_facets``, ``sort``).

Free text matches ``Dataset.search_text`` (folded: lower case, no Vietnamese diacritics), every
term required (CKAN's ``q.op=AND``); a term matches inside words, as a substring. Relevance
(``score``) weighs a term found in the title or name above one found anywhere else.

Where CKAN and Solr differ from us, on purpose:
- a ``q`` without ``:`` is read like CKAN's dismax: syntax it cannot parse (an unclosed quote or
  bracket) is taken as plain words instead of refused; ``fq`` and a ``q`` with ``field:value``
  are read strictly, and what cannot be read is a ``Search Query Error`` (400);
- ``rows`` above 1000 is lowered to 1000, as CKAN's ``limit_to_configured_maximum`` does;
- only active datasets are searched (no ``include_drafts``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db.models import Case, IntegerField, Q, Value, When
from django.db.models.functions import Length, StrIndex
from django.db.models.lookups import Exact, LessThanOrEqual
from django.utils import timezone

from hcmgov.common.text import fold
from hcmgov.opendata import selectors
from hcmgov.opendata.ckan import (
    Context,
    NotFound,
    SearchQueryError,
    action,
    as_bool,
    as_int,
    as_list,
    required,
)
from hcmgov.opendata.dictize import package_dicts
from hcmgov.opendata.models import Dataset, Resource, State

ROWS_MAX = 1000
DEFAULT_SORT = "score desc, metadata_modified desc"
MAX_DEPTH = 32
MAX_CLAUSES = 100
MAX_QUERY = 4000
# count and facets of a search are kept this long (keyed by the catalogue's version, so a write is
# seen at once; an organisation's or group's new title after at most this); 0 turns it off
FACET_CACHE_SECONDS = 60

# --- the query language ---------------------------------------------------------------------------


@dataclass(frozen=True)
class All:
    """``*:*``, or an empty query."""


@dataclass(frozen=True)
class Term:
    """``field:value`` (``field`` None: free text). ``value`` is unescaped; a bare ``*`` inside a
    word (``wildcard``) matches any text, and a value of just ``*`` means "has one"."""

    field: str | None
    value: str
    phrase: bool = False
    wildcard: bool = False


@dataclass(frozen=True)
class Range:
    field: str
    low: str  # "*" for open
    high: str
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = All | Term | Range | Not | And | Or

_SPECIAL = set(' \t\r\n()[]{}":^~')
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT"}


@dataclass
class _Parser:
    """Solr's standard query syntax: ``a b`` (both), ``a OR b``, ``a AND NOT b``, ``+a -b``,
    ``!a``, ``( … )``, ``field:value``, ``field:"a phrase"``, ``field:(a OR b)``,
    ``field:[low TO high]`` / ``{low TO high}``, ``*:*``, ``field:*``, ``value*``, backslash
    escapes; boosts (``^2``) and fuzziness (``~1``) are read and ignored."""

    text: str
    pos: int = 0
    depth: int = 0
    clauses: int = 0
    fields: list[str | None] = field(default_factory=lambda: [None])

    def fail(self, why: str) -> SearchQueryError:
        return SearchQueryError(f"{why} (vị trí / at {self.pos})")

    def parse(self) -> Node:
        if len(self.text) > MAX_QUERY:
            raise SearchQueryError(f"quá dài / longer than {MAX_QUERY} characters")
        self.skip()
        if self.pos == len(self.text):
            return All()
        node = self.or_expr()
        self.skip()
        if self.pos != len(self.text):
            raise self.fail(f"thừa '{self.text[self.pos]}' / unexpected '{self.text[self.pos]}'")
        return node

    # characters
    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def operator(self) -> str | None:
        """The operator word at the cursor (``AND``, ``OR``, ``NOT``, ``&&``, ``||``), if any."""
        self.skip()
        for word, op in _OPERATORS.items():
            end = self.pos + len(word)
            if self.text.startswith(word, self.pos) and (end == len(self.text) or self.text[end] in _SPECIAL):
                return op
        return None

    def take_operator(self) -> None:
        op = self.operator()
        assert op is not None
        self.pos += 2 if self.text[self.pos] in "&|" else len(op)

    # grammar
    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while self.operator() == "OR":
            self.take_operator()
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.clause()]
        while True:
            self.skip()
            if self.pos == len(self.text) or self.peek() == ")" or self.operator() == "OR":
                break
            if self.operator() == "AND":
                self.take_operator()
            children.append(self.clause())
        return children[0] if len(children) == 1 else And(tuple(children))

    def clause(self) -> Node:
        self.skip()
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise SearchQueryError(f"quá nhiều điều kiện / more than {MAX_CLAUSES} clauses")
        if self.operator() == "NOT":
            self.take_operator()
            return Not(self.clause())
        char = self.peek()
        if char in ("-", "!"):
            self.pos += 1
            return Not(self.clause())
        if char == "+":
            self.pos += 1
            return self.clause()
        return self.primary()

    def primary(self) -> Node:
        self.skip()
        char = self.peek()
        if char == "" or self.operator() in ("AND", "OR"):
            raise self.fail("thiếu điều kiện / a clause is missing")
        if char == "(":
            return self.group()
        if char == '"':
            return self.modifiers(Term(self.fields[-1], self.phrase(), phrase=True))
        if char in ")]}:^~{[":
            raise self.fail(f"không đọc được '{char}' / unexpected '{char}'")
        word, wildcard = self.word()
        if self.peek() == ":":
            self.pos += 1
            return self.field_value(word)
        if word == "*":
            return All()
        return self.modifiers(Term(self.fields[-1], word, wildcard=wildcard))

    def group(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(f"lồng quá sâu / nested deeper than {MAX_DEPTH}")
        self.pos += 1
        self.skip()
        if self.peek() == ")":
            raise self.fail("ngoặc rỗng / empty parentheses")
        node = self.or_expr()
        self.skip()
        if self.peek() != ")":
            raise self.fail("thiếu ')' / ')' expected")
        self.pos += 1
        self.depth -= 1
        return self.modifiers(node)

    def field_value(self, name: str) -> Node:
        self.skip()
        char = self.peek()
        if name == "*":
            word, _ = self.word() if char not in _SPECIAL and char else ("", False)
            if word != "*":
                raise self.fail("chỉ hỗ trợ *:* / only *:* is supported")
            return All()
        if char in ("(",):
            self.fields.append(name)
            try:
                return self.group()
            finally:
                self.fields.pop()
        if char in ("[", "{"):
            return self.modifiers(self.range(name))
        if char == '"':
            return self.modifiers(Term(name, self.phrase(), phrase=True))
        if char == "" or char in _SPECIAL:
            raise self.fail(f"thiếu giá trị cho {name} / a value for {name} is expected")
        word, wildcard = self.word()
        return self.modifiers(Term(name, word, wildcard=wildcard))

    def range(self, name: str) -> Node:
        include_low = self.text[self.pos] == "["
        self.pos += 1
        low = self.range_word()
        self.skip()
        if not self.text.startswith("TO", self.pos):
            raise self.fail("thiếu TO / TO expected")
        self.pos += 2
        high = self.range_word()
        self.skip()
        if self.peek() not in ("]", "}"):
            raise self.fail("thiếu ']' / ']' expected")
        include_high = self.peek() == "]"
        self.pos += 1
        return Range(name, low, high, include_low, include_high)

    def range_word(self) -> str:
        """A bound: anything up to a space or the closing bracket (dates have colons)."""
        self.skip()
        if self.peek() == '"':
            return self.phrase()
        start = self.pos
        while self.pos < len(self.text) and not self.text[self.pos].isspace() and self.text[self.pos] not in "]}":
            self.pos += 1
        if self.pos == start:
            raise self.fail("thiếu giới hạn / a bound is expected")
        return self.text[start : self.pos]

    def word(self) -> tuple[str, bool]:
        out: list[str] = []
        wildcard = False
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\":
                if self.pos + 1 == len(self.text):
                    raise self.fail("'\\' ở cuối / trailing '\\'")
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char in _SPECIAL:
                break
            if char == "*":
                wildcard = True
                out.append("\0")  # a wildcard, not an escaped star
            else:
                out.append(char)
            self.pos += 1
        if not out:
            raise self.fail("thiếu từ / a word is expected")
        text = "".join(out)
        if text == "\0":
            return "*", False
        return text, wildcard

    def phrase(self) -> str:
        self.pos += 1  # the opening quote
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if char == '"':
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise self.fail("thiếu dấu '\"' đóng / unterminated quote")

    def modifiers(self, node: Node) -> Node:
        """Boosts and fuzziness (``^2``, ``~``, ``~0.8``): read, and without effect here."""
        while self.peek() in ("^", "~"):
            self.pos += 1
            while self.pos < len(self.text) and (self.text[self.pos].isdigit() or self.text[self.pos] == "."):
                self.pos += 1
        return node


def parse(text: str) -> Node:
    """A Solr query as a tree; ``SearchQueryError`` when it cannot be read."""
    return _Parser(text).parse()


def parse_q(text: str) -> Node:
    """``q``: strict when it names fields (Solr's standard parser, as CKAN), otherwise lenient like
    CKAN's dismax: what cannot be read is taken as plain words."""
    try:
        return parse(text)
    except SearchQueryError:
        if ":" in text:
            raise
        words = re.sub(r'[()\[\]{}"^~\\!+]|(?<!\w)-|&&|\|\|', " ", text).split()
        words = [w for w in words if w not in _OPERATORS]
        return And(tuple(Term(None, w) for w in words[:MAX_CLAUSES])) if words else All()


# --- from the tree to SQL -------------------------------------------------------------------------

MATCH_ALL = Q(pk__isnull=False)
MATCH_NONE = Q(pk__isnull=True)
_EXACT = {  # Solr string fields → the column they read
    "name": "name",
    "organization": "organization__name",
    "owner_org": "organization_id",
    "license_id": "license__id",
    "id": "id",
}
# multi-valued fields: (through rows, the column), matched by subquery so that AND means "has both"
_MANY: dict[str, tuple[Any, str]] = {
    "tags": (Dataset.tags.through, "tag__name"),
    "groups": (Dataset.groups.through, "group__name"),
}
_TEXT = {"title": ("title", "title_en"), "notes": ("notes", "notes_en"), "author": ("author",),
         "maintainer": ("maintainer",), "url": ("url",), "version": ("version",)}  # fmt: skip
_DATES = {"metadata_modified", "metadata_created"}
FIELDS = {"text", "res_format", "state", "capacity", "dataset_type", "type", *_EXACT, *_MANY, *_TEXT, *_DATES}


def _lookup(column: str, value: str, wildcard: bool) -> Q:
    """``column`` equal to ``value``, or matching its wildcards: ``x*``, ``*x``, ``x*y``, ``*x*``,
    and ``*`` alone for "has a value"."""
    if not wildcard:
        return Q(**{column: value})
    parts = value.split("\0")
    if len(parts) == 2:
        start, end = parts
        q = Q(**{f"{column}__gt": ""})
        if start:
            q &= Q(**{f"{column}__startswith": start})
        if end:
            q &= Q(**{f"{column}__endswith": end})
        return q
    if len(parts) == 3 and not parts[0] and not parts[2]:
        return Q(**{f"{column}__contains": parts[1]})
    raise SearchQueryError("chỉ hỗ trợ * ở đầu hoặc cuối / '*' is supported only at the start or end")


def _text(value: str) -> Q:
    words = fold(value.replace("\0", " ")).split()
    if not words:
        return MATCH_ALL
    q = Q()
    for word in words:
        q &= Q(search_text__contains=word)
    return q


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _term(node: Term) -> Q:
    name, value = node.field or "text", node.value
    if name not in FIELDS:
        raise SearchQueryError(f"không có trường '{name}' / undefined field {name}")
    if name in _DATES:
        return _range(Range(name, value, value))
    if value == "*":  # "has a value"
        value, node = "\0", Term(node.field, "\0", wildcard=True)
    if name == "text":
        return _text(value)
    if name in _TEXT:
        raw, folded = value.replace("\0", ""), fold(value.replace("\0", ""))
        q = Q()
        for column in _TEXT[name]:
            q |= Q(**{f"{column}__icontains": raw}) | Q(**{f"{column}__icontains": folded})
        if name == "title":  # titles are not folded in the table; names usually are their folded slugs
            q |= Q(name__contains="-".join(folded.split()))
        return q
    if name in ("id", "owner_org") and not node.wildcard:
        key = _uuid(value)
        return Q(**{_EXACT[name]: key}) if key else MATCH_NONE
    if name in ("id", "owner_org"):
        raise SearchQueryError(f"không hỗ trợ * cho {name} / no wildcards on {name}")
    if name in _EXACT:
        return _lookup(_EXACT[name], value, node.wildcard)
    if name in _MANY:
        through, column = _MANY[name]
        return Q(id__in=through.objects.filter(_lookup(column, value, node.wildcard)).values("dataset_id"))
    if name == "res_format":
        formats = Resource.objects.filter(_lookup("format", value, node.wildcard), state=State.ACTIVE)
        return Q(id__in=formats.values("dataset_id"))
    if name == "capacity":
        return Q(private=value == "private") if value in ("public", "private") else MATCH_NONE
    if name == "state":
        return MATCH_ALL if value == State.ACTIVE else MATCH_NONE  # only active datasets are searched
    return MATCH_ALL if value == "dataset" else MATCH_NONE  # dataset_type, type


_MATH = re.compile(r"([+-])(\d{1,6})(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)S?|/(YEAR|MONTH|DAY|HOUR|MINUTE|SECOND)S?")
_UNITS = {"DAY": dt.timedelta(days=1), "HOUR": dt.timedelta(hours=1), "MINUTE": dt.timedelta(minutes=1),
          "SECOND": dt.timedelta(seconds=1), "MONTH": dt.timedelta(days=30),
          "YEAR": dt.timedelta(days=365)}  # fmt: skip
_ZERO: dict[str, Any] = {"microsecond": 0, "second": 0, "minute": 0, "hour": 0, "day": 1, "month": 1}
_TRUNCATE: dict[str, dict[str, Any]] = {unit: dict(list(_ZERO.items())[:n]) for n, unit in enumerate(
    ["", "SECOND", "MINUTE", "HOUR", "DAY", "MONTH", "YEAR"]) if unit}  # fmt: skip


def parse_date(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """A Solr date: ``2024-05-01T00:00:00Z`` (a date alone is its midnight, UTC), or ``NOW`` with
    date math (``NOW-7DAYS``, ``NOW/DAY``; a month is 30 days and a year 365 here). In UTC."""
    try:
        if text.startswith("NOW"):
            value, rest = (now or timezone.now()).astimezone(dt.UTC), text[3:]
            while rest:
                match = _MATH.match(rest)
                if match is None:
                    raise SearchQueryError(f"ngày không hợp lệ / invalid date math: {text}")
                sign, amount, unit, round_to = match.groups()
                if round_to:
                    value = value.replace(**_TRUNCATE[round_to])
                else:
                    value += (1 if sign == "+" else -1) * int(amount) * _UNITS[unit]
                rest = rest[match.end() :]
            return value
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise SearchQueryError(f"ngày không hợp lệ / invalid date: {text}") from None


def _range(node: Range) -> Q:
    if node.field not in _DATES:
        if node.field not in FIELDS:
            raise SearchQueryError(f"không có trường '{node.field}' / undefined field {node.field}")
        raise SearchQueryError(f"chỉ lọc khoảng theo ngày / ranges only on dates, not {node.field}")
    q = Q()
    if node.low != "*":
        q &= Q(**{f"{node.field}__{'gte' if node.include_low else 'gt'}": parse_date(node.low)})
    if node.high != "*":
        q &= Q(**{f"{node.field}__{'lte' if node.include_high else 'lt'}": parse_date(node.high)})
    return q or MATCH_ALL


def to_q(node: Node) -> Q:
    """The tree as one Django filter."""
    if isinstance(node, All):
        return MATCH_ALL
    if isinstance(node, Term):
        return _term(node)
    if isinstance(node, Range):
        return _range(node)
    if isinstance(node, Not):
        return ~to_q(node.child)
    q = to_q(node.children[0])
    for child in node.children[1:]:
        q = q & to_q(child) if isinstance(node, And) else q | to_q(child)
    return q


def text_terms(node: Node, *, negated: bool = False) -> list[tuple[str, str]]:
    """The free-text words a match counts for relevance (not those under a NOT), each as typed
    (lower case) and folded."""
    if isinstance(node, Term) and node.field in (None, "text") and not negated:
        typed, folded = node.value.replace("\0", " ").lower().split(), fold(node.value.replace("\0", " ")).split()
        return list(zip(typed, folded, strict=False)) if len(typed) == len(folded) else [(w, w) for w in folded]
    if isinstance(node, Not):
        return text_terms(node.child, negated=not negated)
    if isinstance(node, And | Or):
        return [w for child in node.children for w in text_terms(child, negated=negated)]
    return []


def score(words: list[tuple[str, str]]) -> Any:
    """Relevance: per word, 5 when in the name or the title, 1 when elsewhere in the text. The
    folded text begins with the name and the title (``services.search_text``), and folding keeps
    a title's length: a word first found within that many characters is in one of them."""
    total: Any = Value(0)
    head = Length("name") + Length("title") + 2
    for folded in list(dict.fromkeys(f for _, f in words))[:10]:
        at = StrIndex("search_text", Value(folded))
        total += Case(
            When(Q(Exact(at, 0)), then=Value(0)), When(Q(LessThanOrEqual(at, head)), then=Value(5)),
            default=Value(1), output_field=IntegerField(),
        )  # fmt: skip
    return total


# --- sort, facets, the action ---------------------------------------------------------------------

_SORTS = {"score": "score", "metadata_modified": "metadata_modified", "metadata_created": "metadata_created",
          "name": "name", "title_string": "title", "id": "id"}  # fmt: skip


def order_by(sort: str, *, scored: bool) -> list[str]:
    """``sort`` (``field asc|desc``, comma-separated) as ``order_by`` arguments; a name breaks ties."""
    out: list[str] = []
    for part in sort.split(","):
        words = part.split()
        if len(words) != 2 or words[0] not in _SORTS or words[1].lower() not in ("asc", "desc"):
            raise SearchQueryError('tham số "sort" không hợp lệ / Invalid "sort" parameter')
        if words[0] == "score" and not scored:
            continue  # every match scores the same without free text
        out.append(("-" if words[1].lower() == "desc" else "") + _SORTS[words[0]])
    return [*out, "name"]


@dataclass(frozen=True)
class Search:
    """A parsed ``package_search`` request."""

    where: Q
    words: list[tuple[str, str]]
    sort: str
    rows: int
    start: int
    facet_fields: list[str]
    facet_limit: int
    facet_mincount: int


def _text_param(data: dict[str, Any], key: str) -> str:
    """A text parameter the database can hold (no NUL, no lone surrogate)."""
    value = str(data.get(key) or "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SearchQueryError(f"{key}: không phải UTF-8 / not valid UTF-8") from None
    if "\0" in value:
        raise SearchQueryError(f"{key}: có ký tự NUL / contains a NUL character")
    return value


def read_request(context: Context, data: dict[str, Any]) -> Search:
    """Check and read the parameters (CKAN's ``default_package_search_schema``)."""
    q = parse_q(_text_param(data, "q"))
    fq_list = [_text_param({"fq_list": fq}, "fq_list") for fq in as_list(data, "fq_list")]
    filters = [parse(_text_param(data, "fq")), *(parse(fq) for fq in fq_list)]
    where = to_q(q)
    for node in filters:
        where &= to_q(node)
    if not as_bool(data, "include_private"):
        where &= Q(private=False)
    elif not getattr(context.user, "is_superuser", False):
        where &= Q(private=False) | Q(organization_id__in=selectors.organizations_edited_by(context.user))
    facets = as_bool(data, "facet", True)
    fields = as_list(data, "facet.field") if facets else []
    unknown = [f for f in fields if f not in selectors.FACETS]
    if unknown:
        raise SearchQueryError(f"không lập được nhóm theo / cannot facet on {', '.join(unknown)}")
    return Search(
        where=where,
        words=text_terms(q),
        sort=str(data.get("sort") or "").strip() or DEFAULT_SORT,
        rows=min(as_int(data, "rows", 10), ROWS_MAX),
        start=as_int(data, "start", 0),
        facet_fields=list(dict.fromkeys(fields)),
        facet_limit=as_int(data, "facet.limit", 50, minimum=-(10**9)),
        facet_mincount=as_int(data, "facet.mincount", 1),
    )


def _items(rows: list[tuple[str, str, int]]) -> list[dict[str, Any]]:
    items = [{"name": value, "display_name": (title or "").strip() or value, "count": n} for value, title, n in rows]
    return sorted(items, key=lambda item: str(item["display_name"]), reverse=True)


def search_facets(facets: dict[str, list[tuple[str, str, int]]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """CKAN's two views of the counts: ``facets`` (value → count, most first) and ``search_facets``
    (items with ``display_name``, sorted by display name descending, as CKAN 2.10 does)."""
    plain = {name: {value: n for value, _, n in rows} for name, rows in facets.items()}
    return plain, {name: {"title": name, "items": _items(rows)} for name, rows in facets.items()}


def count_facets_and_page(
    matching: Any, search: Search, *, ordering: list[str], cacheable: bool
) -> tuple[int, dict[str, list[tuple[str, str, int]]], list[dict[str, Any]]]:
    """The count, the facets and the page's datasets. The count and the facets come from the
    cache when the same search ran on the same catalogue (as Solr keeps its filter and facet
    caches): they scan every match, the page reads a few rows. Otherwise one statement finds all
    three when the search has free text. Searches with private datasets are not kept (who may see
    them changes without a version)."""
    page = selectors.Page(order=ordering, start=search.start, rows=search.rows)

    def compute(with_page: bool) -> tuple[int, dict[str, list[tuple[str, str, int]]], list[Any]]:
        return selectors.dataset_count_and_facets(
            matching, fields=search.facet_fields, limit=search.facet_limit, mincount=search.facet_mincount,
            page=page if with_page else None,
        )  # fmt: skip

    # free text scans every row (a substring match), so its page is taken from the same scan; other
    # searches read their page in a statement of its own, along an index of their sort
    scored = "score" in matching.query.annotations
    found = None
    if cacheable and FACET_CACHE_SECONDS > 0:
        sql, params = matching.values("id").query.sql_with_params()
        what = (sql, params, search.facet_fields, search.facet_limit, search.facet_mincount,
                selectors.catalogue_version())  # fmt: skip
        key = "opendata:search:" + hashlib.sha256(repr(what).encode()).hexdigest()
        found = cache.get(key)
    if found is None:
        count, facets, ids = compute(with_page=scored)
        if cacheable and FACET_CACHE_SECONDS > 0:
            cache.set(key, (count, facets), FACET_CACHE_SECONDS)
        if scored:
            return count, facets, package_dicts(Dataset.objects.filter(id__in=ids), order=ids)
    else:
        count, facets = found
    results: list[dict[str, Any]] = []
    if search.rows and search.start < count:
        results = package_dicts(matching.order_by(*ordering)[search.start : search.start + search.rows])
    return count, facets, results


@action("package_search")
def package_search(context: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Search datasets (CKAN 2.10): ``q`` (free text, or Solr syntax), ``fq``/``fq_list`` (Solr
    filters: name, title, organization, groups, tags, res_format, license_id, id, owner_org,
    metadata_modified/metadata_created ranges…), ``sort`` (default ``score desc, metadata_modified
    desc``), ``rows`` (10, at most 1000), ``start``, ``facet``, ``facet.field``, ``facet.limit``
    (50; -1 for all), ``facet.mincount`` (1), ``include_private``."""
    search = read_request(context, data)
    matching = Dataset.objects.filter(state=State.ACTIVE).filter(search.where)
    scored = bool(search.words) and "score" in search.sort
    ordering = order_by(search.sort, scored=scored)
    if scored:
        matching = matching.annotate(score=score(search.words))
    cacheable = not as_bool(data, "include_private")
    count, facets, results = count_facets_and_page(matching, search, ordering=ordering, cacheable=cacheable)
    plain, items = search_facets(facets)
    return {
        "count": count,
        "facets": plain,
        "results": results,
        "sort": search.sort,
        "search_facets": items,
    }


@action("resource_view_list")
def resource_view_list(context: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """A resource's views (``id``): none here, the portal shows previews itself. ``ckanapi dump
    --resource-views`` asks for them."""
    resource = selectors.resource_by_id(required(data, "id"))
    if resource is None or resource.state != State.ACTIVE:
        raise NotFound("resource")
    dataset = resource.dataset
    public = dataset.state == State.ACTIVE and not dataset.private
    if not public and not selectors.can_edit(context.user, dataset.organization):
        raise NotFound("resource")
    return []
