"""The ``@context`` rules of NGSI-LD (ETSI GS CIM 009 V1.6.1, clauses 5.5.7 and 6.3.5), for the
subset of JSON-LD that NGSI-LD uses: terms, compact IRIs (``prefix:suffix``), ``@vocab`` and
expanded term definitions (``{"@id": …}``). pyld is not installed, and rdflib's JSON-LD context
fetches remote contexts over the network itself; this module never does at request time unless
``NGSI_LD_CONTEXT_FETCH`` allows it.

The core context (bundled, ``data/ngsi-ld-core-context-v1.6.jsonld``) always applies last, so that
a user context cannot redefine its terms. A remote context is found, in order, as the core
context (any of its versioned URLs), in the folder ``NGSI_LD_CONTEXT_DIR`` (its ``index.json``
maps URLs to files), in the process's cache, or — when ``NGSI_LD_CONTEXT_FETCH`` is set — fetched
once and kept; otherwise the request fails with LdContextNotAvailable.

What is expanded: entity types, attribute and sub-attribute names, and the names used in queries
(``type``, ``attrs``, ``q``, ``watchedAttributes``). Values of properties are kept as sent
(documented in docs/ngsi/api.md)."""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings

from hcmgov.ngsi.errors import BadRequestData, LdContextNotAvailable

CORE_VERSION = "1.6"
CORE_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld"
CORE_FILE = Path(__file__).parent / "data" / "ngsi-ld-core-context-v1.6.jsonld"
# every spelling of the core context a client may send: it is always applied anyway
CORE_URLS = frozenset(
    {
        CORE_URL,
        "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
        *(f"https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.{n}.jsonld" for n in range(3, 9)),
    }
)
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
NGSI = "https://uri.etsi.org/ngsi-ld/"
MAX_CONTEXT_DEPTH = 8

_remote: dict[str, Any] = {}  # URL → its @context value, fetched or read once
_lock = threading.Lock()


@functools.cache
def core_document() -> dict[str, Any]:
    """The core context document, ``{"@context": {...}}``."""
    return dict(json.loads(CORE_FILE.read_text(encoding="utf-8")))


@dataclass
class Context:
    """An active context: terms → IRIs, prefixes, ``@vocab``, and the reverse map for compaction."""

    terms: dict[str, str] = field(default_factory=dict)
    vocab: str | None = DEFAULT_VOCAB
    reverse: dict[str, str] = field(default_factory=dict)
    source: Any = None  # the user's @context as given (for Link headers and notifications)

    def expand(self, term: str) -> str:
        """A term, compact IRI or IRI → its IRI (JSON-LD 1.1 IRI expansion, ``vocab: true``)."""
        if term in self.terms:
            return self.terms[term]
        if ":" in term:
            prefix, _, suffix = term.partition(":")
            if prefix in self.terms and not suffix.startswith("//"):
                return self.terms[prefix] + suffix
            return term  # an absolute IRI (or a URN)
        if self.vocab is not None:
            return self.vocab + term
        return term

    def compact(self, iri: str) -> str:
        """An IRI → the shortest term of this context that expands to it, else a compact IRI with
        a prefix, else the rest after ``@vocab``, else the IRI."""
        term = self.reverse.get(iri)
        if term is not None:
            return term
        if self.vocab and iri.startswith(self.vocab) and len(iri) > len(self.vocab):
            rest = iri[len(self.vocab) :]
            if ":" not in rest and rest not in self.terms:
                return rest
        best = None
        for prefix, base in self.terms.items():
            if base and base[-1] in "/#:" and iri.startswith(base) and len(iri) > len(base):
                candidate = f"{prefix}:{iri[len(base) :]}"
                if best is None or len(candidate) < len(best):
                    best = candidate
        return best or iri


def _definition_iri(value: Any, local: dict[str, Any], seen: set[str]) -> str | None:
    if isinstance(value, dict):
        value = value.get("@id")
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequestData("@context: định nghĩa thuật ngữ không hợp lệ", "@context: invalid term definition")
    if value.startswith("@"):
        return value
    if ":" in value:
        prefix, _, suffix = value.partition(":")
        if prefix in local and prefix not in seen and not suffix.startswith("//"):
            base = _definition_iri(local[prefix], local, seen | {prefix})
            if base is not None:
                return base + suffix
    return value


def _remote_context(url: str, depth: int) -> Any:
    if url in _remote:
        return _remote[url]
    folder = getattr(settings, "NGSI_LD_CONTEXT_DIR", "")
    found: Any = None
    if folder:
        index = Path(folder) / "index.json"
        try:
            names = json.loads(index.read_text(encoding="utf-8"))
            name = names.get(url) if isinstance(names, dict) else None
            if name:
                found = json.loads((Path(folder) / Path(str(name)).name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            found = None
    if found is None and getattr(settings, "NGSI_LD_CONTEXT_FETCH", False):
        found = _fetch(url)
    if found is None or not isinstance(found, dict) or "@context" not in found:
        raise LdContextNotAvailable(
            f"Không có @context {url} trong bộ nhớ đệm của hệ thống", f"The @context {url} is not available"
        )
    with _lock:
        _remote[url] = found["@context"]
    return found["@context"]


def _fetch(url: str) -> Any:
    """Fetch a remote context (only when ``NGSI_LD_CONTEXT_FETCH`` allows it), through the SSRF
    guard; None when it cannot be had."""
    from hcmgov.common.netguard import url_refusal
    from hcmgov.common.outbound import OutboundError, request

    if url_refusal(url, allowed=getattr(settings, "NGSI_LD_NOTIFY_ALLOWED", [])):
        return None
    try:
        status, body = request(url, headers={"Accept": "application/ld+json"}, timeout=5.0)
        return json.loads(body) if status == 200 else None
    except (OutboundError, ValueError):
        return None


def _merge(local: Any, into: dict[str, Any], vocab: list[str | None], depth: int) -> None:
    if depth > MAX_CONTEXT_DEPTH:
        raise BadRequestData("@context lồng nhau quá sâu", "@context nested too deeply")
    if local is None:
        into.clear()
        vocab[0] = DEFAULT_VOCAB
        return
    if isinstance(local, list):
        for item in local:
            _merge(item, into, vocab, depth + 1)
        return
    if isinstance(local, str):
        if local in CORE_URLS:
            return  # applied last anyway
        _merge(_remote_context(local, depth), into, vocab, depth + 1)
        return
    if not isinstance(local, dict):
        raise BadRequestData("@context không hợp lệ", "@context is not valid")
    if "@vocab" in local:
        value = local["@vocab"]
        if value is not None and not isinstance(value, str):
            raise BadRequestData("@vocab không hợp lệ", "@vocab is not valid")
        vocab[0] = value
    for term, definition in local.items():
        if term.startswith("@"):
            continue
        iri = _definition_iri(definition, local, {term})
        if iri is None:
            into.pop(term, None)
        elif not iri.startswith("@"):
            into[term] = iri


@functools.lru_cache(maxsize=512)
def _build(key: str) -> Context:
    user = json.loads(key)
    terms: dict[str, str] = {}
    vocab: list[str | None] = [DEFAULT_VOCAB]
    if user is not None:
        _merge(user, terms, vocab, 0)
    core: dict[str, str] = {}
    core_vocab: list[str | None] = [DEFAULT_VOCAB]
    _merge(core_document()["@context"], core, core_vocab, 0)
    terms.update(core)  # the core context cannot be overridden (clause 5.5.7)
    reverse: dict[str, str] = {}
    for term, iri in terms.items():
        if ":" in term:
            continue
        kept = reverse.get(iri)
        if kept is None or (term in core and kept not in core) or len(term) < len(kept):
            reverse[iri] = term
    return Context(terms=terms, vocab=vocab[0] or DEFAULT_VOCAB, reverse=reverse, source=user)


def context_for(user: Any) -> Context:
    """The active context for a user's ``@context`` (None: the core context alone)."""
    if isinstance(user, list) and len(user) == 1:
        user = user[0]
    if isinstance(user, str) and user in CORE_URLS:
        user = None
    try:
        key = json.dumps(user, sort_keys=True)
    except (TypeError, ValueError):
        raise BadRequestData("@context không hợp lệ", "@context is not valid") from None
    return _build(key)


def context_forget() -> None:
    """Forget every remote context read (tests; a changed ``NGSI_LD_CONTEXT_DIR``)."""
    with _lock:
        _remote.clear()
    _build.cache_clear()


def link_header(context: Context) -> str:
    """The ``Link`` header naming the context of an application/json answer: the user's when it was
    one URL, else the core context."""
    source = context.source
    url = source if isinstance(source, str) else CORE_URL
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


def response_context(context: Context) -> Any:
    """The ``@context`` member of an application/ld+json answer."""
    source = context.source
    if source is None:
        return CORE_URL
    items = source if isinstance(source, list) else [source]
    return [*items, CORE_URL]
