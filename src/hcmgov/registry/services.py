"""Writes of the shared data store: records kept versioned with their provenance, lookups in the
national databases through the exchange gateway (retried later when the source fails), the facts
applicants declare in their dossiers kept and checked against the base registries, and the prefill
of a form from what the city already holds.

Never ask twice: what a registry holds or an applicant once declared is offered again, with its
source, as far as the applicant's consent (purpose ``prefill``) covers its category. Never
overwrite silently: a declared fact that disagrees with a base registry is flagged
(:class:`FactCheck` ``differs``) for an official, and both values stay where they were.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from jsonschema import Draft202012Validator

from hcmgov.audit.services import audit_record
from hcmgov.common import crypto
from hcmgov.common.errors import DomainError, FieldError, Message
from hcmgov.registry import registries as decl
from hcmgov.registry.adapters import gateway
from hcmgov.registry.facts import FACTS, comparable, fact_value
from hcmgov.registry.models import (
    CheckState,
    FactCheck,
    Record,
    RecordState,
    RecordVersion,
    Registry,
)

log = logging.getLogger(__name__)

KEY_CONTEXT = "registry.record.key"
RECIPIENT = "kho-du-lieu"  # the recipient a prefill consent names: the city's shared data store
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=6)
MAX_ATTEMPTS = 20


def key_index(key: str) -> str:
    return crypto.blind_index(key, context=KEY_CONTEXT)


def registries_sync() -> int:
    """Keep the registries in the database as ``registry.registries`` declares them."""
    for d in decl.DECLARATIONS:
        Registry.objects.update_or_create(
            code=d.code,
            defaults={
                "name": d.name,
                "name_en": d.name_en,
                "kind": d.kind,
                "subject": d.subject,
                "key_name": d.key_name,
                "schema": d.schema,
                "service": d.service,
                "authoritative": d.authoritative,
                "refresh_days": d.refresh_days,
            },
        )
    return len(decl.DECLARATIONS)


def _registry(code: str) -> Registry:
    found = Registry.objects.filter(code=code).first()
    if found is None:
        registries_sync()
        found = Registry.objects.get(code=code)
    return found


def _invalid(registry: str, problems: list[FieldError]) -> DomainError:
    return DomainError(
        "registry_record_invalid",
        Message(
            f"Dữ liệu không đúng lược đồ của sổ {registry}.",
            f"The data does not follow the schema of the {registry} registry.",
        ),
        422,
        errors=problems,
    )


def facts_problems(registry: Registry, facts: Any) -> list[FieldError]:
    """Where ``facts`` break the registry's schema (empty: they follow it)."""
    if not isinstance(facts, dict):
        return [FieldError("", "type", Message("Phải là một đối tượng JSON.", "Must be a JSON object."))]
    validator = Draft202012Validator(registry.schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        FieldError(
            ".".join(str(p) for p in error.absolute_path),
            str(error.validator),
            Message(f"Không hợp lệ: {error.message}", f"Invalid: {error.message}"),
        )
        for error in sorted(validator.iter_errors(facts), key=lambda e: list(e.absolute_path))
    ]


def _changed(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    old = old or {}
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


@dataclass
class Put:
    record: Record
    changed: list[str]  # facts this write changed; empty: the source confirmed what was held


def record_put(
    *,
    registry_code: str,
    key: str,
    facts: dict[str, Any],
    source: str,
    source_ref: str = "",
    fetched_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Put:
    """Keep ``facts`` as the registry's record of ``key``: a new version when they differ from the
    one held (the change feed), only the time it was vouched for when they do not. Facts that do
    not follow the registry's schema are refused whole (``registry_record_invalid``), nothing kept."""
    registry = _registry(registry_code)
    problems = facts_problems(registry, facts)
    if problems:
        raise _invalid(registry.code, problems)
    now = now or timezone.now()
    index = key_index(key)
    for _ in range(2):  # a concurrent first write of the same key: the loser retries as an update
        try:
            with transaction.atomic():
                record = Record.objects.select_for_update().filter(registry=registry, key_index=index).first()
                if record is None:
                    record = Record.objects.create(
                        registry=registry, key_index=index, key=key, facts=None, updated_at=now
                    )
                changed = _changed(record.facts, facts) if record.version else sorted(facts)
                record.state = RecordState.CURRENT
                record.source, record.source_ref = source, source_ref
                record.fetched_at = fetched_at or now
                record.next_lookup_at, record.lookup_attempts, record.last_error = None, 0, ""
                if changed:
                    record.version += 1
                    record.facts = facts
                    record.updated_at = now
                    RecordVersion.objects.create(
                        record=record,
                        registry=registry,
                        version=record.version,
                        facts=facts,
                        changed=changed,
                        source=source,
                        source_ref=source_ref,
                        recorded_at=now,
                    )
                record.save()
                return Put(record, changed)
        except IntegrityError:
            continue
    raise RuntimeError(f"record_put: could not write {registry_code} after a concurrent write")


# --- lookups in the national databases -------------------------------------------------------------

_token_lock = threading.Lock()
_token: dict[str, tuple[float, str]] = {}  # client id → (valid until, token)


def tokens_forget() -> None:
    """Forget the gateway tokens this process holds (tests; a new provider store)."""
    with _token_lock:
        _token.clear()


def _client_id() -> str:
    from hcmgov.exchange import selectors as exchange

    return settings.HCMGOV_REGISTRY_CLIENT_ID or exchange.system_client_id(code=settings.HCMGOV_REGISTRY_SYSTEM)


def _access_token(client_id: str, *, fresh: bool = False) -> str:
    from hcmgov.identity.provider import services as provider

    with _token_lock:
        kept = _token.get(client_id)
        if kept and not fresh and kept[0] > time.time() + 60:
            return kept[1]
        raw, expires = provider.machine_token_issue(client_id=client_id, seconds=3600)
        _token[client_id] = (expires, raw)
        return raw


@dataclass
class Lookup:
    """What a lookup found: ``state`` current (``record`` holds the facts), not_found, or pending
    (the source failed; ``error`` says how, and the record is tried again from ``retry_at``)."""

    state: str
    record: Record | None = None
    error: str = ""
    retry_at: dt.datetime | None = None


def _backoff(attempts: int) -> dt.timedelta:
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(0, attempts - 1)))


def _pending(registry: Registry, key: str, error: str, now: dt.datetime, *, retry: bool) -> Lookup:
    index = key_index(key)
    with transaction.atomic():
        record = Record.objects.select_for_update().filter(registry=registry, key_index=index).first()
        if record is None:
            record = Record(registry=registry, key_index=index, key=key, facts=None, updated_at=now)
        record.lookup_attempts += 1
        record.last_error = error[:300]
        if record.version == 0:
            record.state = RecordState.PENDING
        # what was held stays held (and current); a source that cannot help is not asked again
        give_up = not retry or record.lookup_attempts >= MAX_ATTEMPTS
        record.next_lookup_at = None if give_up else now + _backoff(record.lookup_attempts)
        record.save()
    log.warning("registry: lookup in %s failed (%s), attempt %d", registry.code, error, record.lookup_attempts)
    return Lookup("pending", record if record.version else None, error, record.next_lookup_at)


def registry_lookup(
    *, registry_code: str, key: str, timeout: float | None = None, end_user: str = "", now: dt.datetime | None = None
) -> Lookup:
    """Ask the registry's national source for ``key`` through the exchange gateway and keep what
    it answers (:func:`record_put`). A source that fails — no answer in ``timeout`` seconds, an
    error, data that breaks the schema — blocks nobody: the record is marked for a later try
    (``lookups_retry``) and the caller goes on with what the store holds."""
    if transaction.get_connection().in_atomic_block:
        # the gateway checks our token in its own connection: one issued inside this transaction
        # is not there until it commits (an outbox handler, a test's transaction), so ask after it
        transaction.on_commit(
            lambda: registry_lookup(registry_code=registry_code, key=key, timeout=timeout, end_user=end_user)
        )
        return Lookup("pending", error="asked after the current transaction commits")
    registry = _registry(registry_code)
    now = now or timezone.now()
    if not registry.service:
        raise DomainError(
            "registry_no_source",
            Message(f"Sổ {registry.code} không có nguồn để tra cứu.", f"The {registry.code} registry has no source."),
            409,
        )
    client_id = _client_id()
    if not client_id:
        return _pending(registry, key, "no exchange client configured (HCMGOV_REGISTRY_SYSTEM)", now, retry=True)
    request_id = f"registry-{uuid.uuid4().hex[:16]}"
    try:
        try:
            answer = gateway.record_fetch(
                gateway_url=settings.EXCHANGE_GATEWAY_URL,
                service=registry.service,
                key=key,
                token=_access_token(client_id),
                timeout=timeout if timeout is not None else float(settings.HCMGOV_REGISTRY_TIMEOUT),
                request_id=request_id,
                end_user=end_user,
            )
        except gateway.SourceError as exc:
            if exc.status != 401:
                raise
            answer = gateway.record_fetch(  # our token was forgotten (a restart of the provider's store)
                gateway_url=settings.EXCHANGE_GATEWAY_URL,
                service=registry.service,
                key=key,
                token=_access_token(client_id, fresh=True),
                timeout=timeout if timeout is not None else float(settings.HCMGOV_REGISTRY_TIMEOUT),
                request_id=request_id,
                end_user=end_user,
            )
    except gateway.SourceError as exc:
        return _pending(registry, key, str(exc), now, retry=exc.retry)
    if answer is None:
        return _not_found(registry, key, request_id, now)
    try:
        put = record_put(
            registry_code=registry.code,
            key=key,
            facts=answer,
            source=registry.service,
            source_ref=request_id,
            now=now,
        )
    except DomainError as exc:  # malformed data: keep what was held, try again later
        detail = "; ".join(f"{e.field}: {e.message.en}" for e in exc.errors)[:250]
        return _pending(registry, key, f"malformed answer: {detail}", now, retry=True)
    _recheck(registry, key)
    return Lookup("current", put.record)


def _not_found(registry: Registry, key: str, request_id: str, now: dt.datetime) -> Lookup:
    index = key_index(key)
    with transaction.atomic():
        record = Record.objects.select_for_update().filter(registry=registry, key_index=index).first()
        if record is None:
            record = Record(registry=registry, key_index=index, key=key, facts=None, updated_at=now)
        record.state = RecordState.NOT_FOUND
        record.source, record.source_ref, record.fetched_at = registry.service, request_id, now
        record.next_lookup_at, record.lookup_attempts, record.last_error = None, 0, ""
        record.save()
    return Lookup("not_found", record)


def lookups_retry(*, now: dt.datetime | None = None, batch: int = 100) -> dict[str, int]:
    """Try again the lookups that are due (the worker's tick); returns counts by outcome."""
    now = now or timezone.now()
    due = list(
        Record.objects.select_related("registry")
        .filter(next_lookup_at__lte=now)
        .exclude(registry__service="")
        .order_by("next_lookup_at")[:batch]
    )
    counts = {"current": 0, "not_found": 0, "pending": 0}
    for record in due:
        outcome = registry_lookup(registry_code=record.registry.code, key=record.key, now=now)
        counts[outcome.state] += 1
    return counts


def login_prefetch(*, user_id: int, now: dt.datetime | None = None) -> Lookup | None:
    """After an e-ID login: fetch the person's population record when their consent to prefill
    covers it and the store lacks it or holds it past its refresh time, so that their first form
    opens filled without waiting for the national database. A failure leaves the lookup pending."""
    from hcmgov.identity import selectors as identity

    now = now or timezone.now()
    user = identity.user_by_id(user_id=user_id)
    if user is None or not user.personal_id:
        return None
    if identity.consent_active(user=user, purpose="prefill", recipient=RECIPIENT, category="identity") is None:
        return None
    held = (
        Record.objects.select_related("registry")
        .filter(registry__code=decl.POPULATION, key_index=key_index(user.personal_id))
        .first()
    )
    if held is not None and (held.state != RecordState.CURRENT or not _stale(held, now)):
        return None  # held and fresh, or pending (the worker's retry has it), or not in the source
    return registry_lookup(
        registry_code=decl.POPULATION,
        key=user.personal_id,
        timeout=float(settings.HCMGOV_REGISTRY_PREFILL_TIMEOUT),
        now=now,
    )


# --- facts declared in dossiers, checked against the base registries ------------------------------


def applicant_key(user: Any) -> str:
    """The key of the applicant's own records: personal ID, tax code, or the account."""
    return user.personal_id or user.tax_code or f"account:{user.pk}"


def _declared_facts(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    from hcmgov.common import jsonform

    found: dict[str, Any] = {}
    for f in jsonform.flat_fields(schema):
        name = f.schema.get("x-prefill")
        if name not in FACTS:
            continue
        value = fact_value(data, f.name)
        if isinstance(value, str | int | float | bool) and value != "":
            found.setdefault(name, value)  # a form that asks twice (a section per person): the first
    return found


def dossier_facts_record(*, dossier_id: int, now: dt.datetime | None = None) -> list[FactCheck]:
    """Keep the facts the applicant declared in the dossier (so the next form need not ask), and
    check each against its base registry: verified, differs (flagged for an official, neither
    value changed) or unverified (no record yet: a lookup is queued and the check redone when it
    lands). Idempotent: the outbox may deliver twice."""
    from hcmgov.dossiers import selectors as dossiers

    now = now or timezone.now()
    dossier = dossiers.dossier_by_id(dossier_id=dossier_id)
    declared = _declared_facts(dossier.procedure_version.form_schema, dossier.form_data)
    if not declared:
        return []
    applicant = dossier.applicant
    key = applicant_key(applicant)
    held = record_of(registry_code=decl.DECLARED, key=key)
    record_put(
        registry_code=decl.DECLARED,
        key=key,
        facts={**((held.facts or {}) if held else {}), **declared},
        source="dossier",
        source_ref=dossier.code,
        now=now,
    )
    return _check(dossier_id=dossier.pk, dossier_code=dossier.code, applicant=applicant, declared=declared, now=now)


def fact_check_outcome(
    fact: Any, record: Record | None, *, key: str, declared: Any
) -> tuple[str, dict[str, Any] | None]:
    """What a registry says of a declared fact: verified (the same), differs (both values kept, for
    an official to resolve) or unverified (no current record to compare with)."""
    if record is None or record.state != RecordState.CURRENT or record.facts is None:
        return CheckState.UNVERIFIED, None
    held = fact_value(record.facts, fact.path) if fact.path else key
    if comparable(held) == comparable(declared):
        return CheckState.VERIFIED, None
    return CheckState.DIFFERS, {"declared": declared, "registry": held}


def _check(
    *, dossier_id: int, dossier_code: str, applicant: Any, declared: dict[str, Any], now: dt.datetime
) -> list[FactCheck]:
    keys = {"person": applicant.personal_id or "", "business": applicant.tax_code or ""}
    records: dict[str, Record | None] = {}
    registries: dict[str, Registry] = {}
    checks: list[FactCheck] = []
    for name, value in sorted(declared.items()):
        fact = FACTS[name]
        if not fact.registry or not keys[fact.subject]:
            continue
        if fact.registry not in records:
            records[fact.registry] = record_of(registry_code=fact.registry, key=keys[fact.subject])
            if records[fact.registry] is None:
                _queue_lookup(fact.registry, keys[fact.subject], now)
        state, values = fact_check_outcome(fact, records[fact.registry], key=keys[fact.subject], declared=value)
        registry = registries.get(fact.registry) or registries.setdefault(fact.registry, _registry(fact.registry))
        checks.append(
            FactCheck(dossier_id=dossier_id, fact=name, dossier_code=dossier_code, state=state, registry=registry,
                      values=values, checked_at=now)
        )  # fmt: skip
    if checks:  # one statement, rerun-safe: a check already made is updated (its resolution kept)
        FactCheck.objects.bulk_create(
            checks,
            update_conflicts=True,
            unique_fields=["dossier_id", "fact"],
            update_fields=["dossier_code", "state", "registry", "values", "checked_at"],
        )
    return checks


def _queue_lookup(registry_code: str, key: str, now: dt.datetime) -> None:
    """Ask the worker to look ``key`` up soon (a record with nothing held, due now)."""
    registry = _registry(registry_code)
    if not registry.service:
        return
    Record.objects.get_or_create(
        registry=registry,
        key_index=key_index(key),
        defaults={"key": key, "facts": None, "updated_at": now, "state": RecordState.PENDING, "next_lookup_at": now},
    )


def _recheck(registry: Registry, key: str) -> None:
    """Redo the unverified checks a newly held record can settle (open dossiers of its subject)."""
    from hcmgov.dossiers import selectors as dossiers
    from hcmgov.identity import selectors as identity

    if registry.subject != "person":
        return
    user = identity.user_by_personal_id(personal_id=key)
    if user is None:
        return
    pending = FactCheck.objects.filter(registry=registry, state=CheckState.UNVERIFIED, resolved_at__isnull=True)
    for dossier_id in set(pending.values_list("dossier_id", flat=True)):
        dossier = dossiers.dossier_by_id(dossier_id=dossier_id)
        if dossier.applicant_id != user.pk:
            continue
        declared = _declared_facts(dossier.procedure_version.form_schema, dossier.form_data)
        _check(dossier_id=dossier.pk, dossier_code=dossier.code, applicant=user, declared=declared, now=timezone.now())


def dossier_fact_checks_read(*, dossier_id: int, purpose: str = "processing") -> list[dict[str, Any]]:
    """The dossier's fact checks as an official sees them (``selectors.dossier_fact_checks``); the
    read of the registries' values shown where facts differ is audited with its purpose."""
    from hcmgov.registry import selectors

    rows = selectors.dossier_fact_checks(dossier_id=dossier_id)
    shown = sorted(row["fact"] for row in rows if row["values"])
    if shown:
        audit_record(
            action="registry.read",
            obj=None,
            object_type="registry.factcheck",
            object_id=str(dossier_id),
            after={"purpose": purpose, "facts": shown, "context": rows[0]["dossier_code"]},
        )
    return rows


def fact_check_resolve(*, check_id: int, official: Any, resolution: str) -> FactCheck:
    """An official settles a flagged fact (which value holds and why); both values stay recorded."""
    check = FactCheck.objects.filter(pk=check_id).first()
    if check is None:
        raise DomainError("registry_check_not_found", Message("Không có mục đối chiếu này.", "No such check."), 404)
    resolution = resolution.strip()
    if not resolution:
        raise DomainError(
            "registry_resolution_required",
            Message("Ghi rõ cách xử lý sai lệch.", "Say how the difference was settled."),
            422,
            errors=[FieldError("resolution", "required", Message("Bắt buộc.", "Required."))],
        )
    check.resolved_at, check.resolved_by, check.resolution = timezone.now(), official.pk, resolution[:300]
    check.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    audit_record(action="registry.check_resolve", obj=check, after={"resolution": check.resolution})
    return check


# --- prefill ------------------------------------------------------------------------------------------


def record_of(*, registry_code: str, key: str) -> Record | None:
    return Record.objects.filter(registry__code=registry_code, key_index=key_index(key)).first()


@dataclass(frozen=True)
class Provenance:
    """Where a prefilled value comes from, as the form shows it."""

    source: Message
    verified: bool
    at: dt.datetime | None = None


ACCOUNT = Message("Tài khoản của bạn", "Your account")
EID = Message("Định danh điện tử (VNeID)", "National e-ID (VNeID)")
DECLARED = Message("Bạn đã khai ở hồ sơ trước", "You gave it in an earlier dossier")


@dataclass
class Prefill:
    values: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Provenance] = field(default_factory=dict)
    consent: bool = False  # the applicant's prefill consent is in force
    pending: list[str] = field(default_factory=list)  # registries whose lookup failed: fields unverified


def _stale(record: Record, now: dt.datetime) -> bool:
    days = record.registry.refresh_days
    return bool(days) and (record.fetched_at is None or record.fetched_at < now - dt.timedelta(days=days))


def applicant_prefill(
    *, user: Any, facts: Iterable[str], context: str = "", lookup: bool = True, now: dt.datetime | None = None
) -> Prefill:
    """The facts the city holds about ``user`` among ``facts``, each with its source. Without the
    applicant's consent to prefill (purpose ``prefill``, per data category), only what their own
    account holds is offered. With it: the base registries first (verified), then what they
    declared before, then the account. A national record the store lacks (or holds past its
    refresh time) is looked up once, briefly; when that fails the form is still filled from what
    is held, the field left to the applicant and marked unverified. Every read of registry data
    is audited with its purpose."""
    from hcmgov.identity import selectors as identity

    now = now or timezone.now()
    wanted = [FACTS[name] for name in dict.fromkeys(facts) if name in FACTS]
    result = Prefill()
    if not wanted:
        return result
    consent = identity.consent_active(user=user, purpose="prefill", recipient=RECIPIENT)
    result.consent = consent is not None
    covered = set(consent.data_categories) if consent is not None else set()
    usable = [f for f in wanted if f.category in covered]
    keys = {"person": user.personal_id or "", "business": user.tax_code or ""}
    records: dict[str, Record] = {}
    if usable:
        wanted_registries = {(f.registry, keys[f.subject]) for f in usable if f.registry and keys[f.subject]}
        wanted_registries.add((decl.DECLARED, applicant_key(user)))
        indexes = {key_index(k) for _, k in wanted_registries}
        for record in Record.objects.select_related("registry").filter(
            registry__code__in={r for r, _ in wanted_registries}, key_index__in=indexes
        ):
            records[record.registry.code] = record
        if lookup:
            for code, key in sorted(wanted_registries):
                if code == decl.DECLARED:
                    continue
                held = records.get(code)
                due = held is None or (
                    held.state == RecordState.CURRENT and _stale(held, now) and held.next_lookup_at is None
                )
                if held is not None and held.state == RecordState.PENDING:
                    result.pending.append(code)
                if not due:
                    continue
                found = registry_lookup(
                    registry_code=code, key=key, timeout=float(settings.HCMGOV_REGISTRY_PREFILL_TIMEOUT), now=now
                )
                if found.record is not None and found.record.facts is not None:
                    records[code] = found.record
                if found.state == "pending":
                    result.pending.append(code)
    read: dict[int, list[str]] = {}
    verified_attributes = set(getattr(user, "verified_attributes", None) or ())
    for fact in wanted:
        value, provenance = None, None
        if fact in usable:
            base = records.get(fact.registry) if fact.registry else None
            if base is not None and base.state == RecordState.CURRENT and base.facts is not None:
                value = fact_value(base.facts, fact.path) if fact.path else keys[fact.subject]
                if value not in (None, ""):
                    provenance = Provenance(
                        Message(base.registry.name, base.registry.name_en), base.registry.authoritative, base.fetched_at
                    )
                    read.setdefault(base.pk, []).append(fact.name)
            declared = records.get(decl.DECLARED)
            if provenance is None and declared is not None and declared.facts:
                value = declared.facts.get(fact.name)
                if value not in (None, ""):
                    provenance = Provenance(DECLARED, False, declared.updated_at)
                    read.setdefault(declared.pk, []).append(fact.name)
        if provenance is None and fact.account:
            value = getattr(user, fact.account, None)
            if value not in (None, ""):
                vouched = fact.account in verified_attributes  # the national e-ID vouched for it at login
                provenance = Provenance(EID if vouched else ACCOUNT, vouched)
        if provenance is None:
            continue
        result.values[fact.name] = value.isoformat() if isinstance(value, dt.date) else value
        result.provenance[fact.name] = provenance
    if read:
        audit_record(
            action="registry.read",
            obj=None,
            object_type="registry.record",
            object_id=",".join(str(pk) for pk in sorted(read))[:80],
            after={
                "purpose": "prefill",
                "facts": sorted({n for names in read.values() for n in names}),
                "context": context,
            },
        )
    return result
