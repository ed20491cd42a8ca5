"""A dossier's form data is encrypted at rest (docs/decisions/0017): the column holds ciphertext,
the ORM reads the plain form, ``hcmgov keys rotate`` moves it to a new key, migrations 0014–0015
encrypt the forms already stored (and decrypt them back), and no audit event copies it in clear."""

from __future__ import annotations

import base64
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import override_settings

from hcmgov.audit.models import AuditEvent
from hcmgov.common import crypto
from hcmgov.dossiers.demo_copy import CopyWriter, OrmWriter
from hcmgov.dossiers.models import DELIVERY_TO_CONTEXT, FORM_DATA_CONTEXT, WORKFLOW_STATE_CONTEXT, Dossier
from hcmgov.dossiers.tests.conftest import VALID_FORM

K1 = base64.urlsafe_b64encode(b"1" * 32).decode()
K2 = base64.urlsafe_b64encode(b"2" * 32).decode()
PERSONAL_ID = VALID_FORM["personal_id"]


def raw_forms() -> dict[int, Any]:
    """The form_data column as stored, by dossier."""
    with connection.cursor() as cur:
        cur.execute("SELECT id, form_data FROM dossiers_dossier")
        return dict(cur.fetchall())


def keys(*args: str) -> str:
    out = StringIO()
    call_command("keys", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_the_column_holds_ciphertext_and_the_orm_reads_the_form(submit):
    dossier, _ = submit()
    raw = raw_forms()[dossier.pk]
    assert raw.startswith(f"v1:{crypto.keyring().current}:")
    assert PERSONAL_ID not in raw
    assert "Nguyễn" not in raw
    assert json.loads(crypto.decrypt_text(raw, context=FORM_DATA_CONTEXT)) == VALID_FORM
    assert Dossier.objects.get(pk=dossier.pk).form_data == VALID_FORM
    assert Dossier.objects.values_list("form_data", flat=True).get(pk=dossier.pk) == VALID_FORM
    assert Dossier.objects.values("form_data").get(pk=dossier.pk)["form_data"] == VALID_FORM
    with pytest.raises(crypto.CryptoError, match="is encrypted"):
        Dossier.objects.filter(form_data__personal_id=PERSONAL_ID).exists()


@pytest.mark.django_db
def test_the_submission_audit_event_does_not_copy_the_form(submit):
    dossier, _ = submit()
    event = AuditEvent.objects.get(action="dossier.submit", object_id=str(dossier.pk))
    recorded = json.dumps([event.before, event.after], ensure_ascii=False)
    assert PERSONAL_ID not in recorded
    assert "form_data" not in (event.after or {})
    assert "workflow_state" not in (event.after or {})  # the engine's state carries the form's facts


@pytest.mark.django_db
def test_rotation_moves_form_data_to_the_new_key_and_old_rows_stay_readable(submit):
    # the key the test settings derive, kept so the accounts and versions made before stay readable
    dev = "dev:" + base64.urlsafe_b64encode(crypto.keyring().keys["dev"]).decode()
    with override_settings(HCMGOV_DATA_KEYS=f"k1:{K1},{dev}"):
        old, _ = submit()
    study = {**VALID_FORM, "purpose": "study"}
    with override_settings(HCMGOV_DATA_KEYS=f"k2:{K2},k1:{K1},{dev}"):
        new, _ = submit(form_data=study)
        assert {pk: crypto.key_id_of(v) for pk, v in raw_forms().items()} == {old.pk: "k1", new.pk: "k2"}
        assert Dossier.objects.get(pk=old.pk).form_data == VALID_FORM  # an old row reads as it is
        assert "dossiers.Dossier.form_data: k2 1, k1 1" in keys("status")

        assert "dossiers.Dossier.form_data: 1" in keys("rotate")
        assert {crypto.key_id_of(v) for v in raw_forms().values()} == {"k2"}
        assert "dossiers.Dossier.form_data: k2 2" in keys("status")
        assert Dossier.objects.get(pk=old.pk).form_data == VALID_FORM
        assert Dossier.objects.get(pk=new.pk).form_data == study
    with override_settings(HCMGOV_DATA_KEYS=f"k2:{K2}"):  # k1 dropped: the forms still open
        assert Dossier.objects.get(pk=old.pk).form_data == VALID_FORM


def test_the_demo_copy_writer_encrypts_each_form():
    text = json.dumps(VALID_FORM, ensure_ascii=False)
    first, second = CopyWriter.form(text), CopyWriter.form(text)
    assert first != second  # a fresh nonce for every row, as the field gives
    assert PERSONAL_ID not in first
    assert json.loads(crypto.decrypt_text(first, context=FORM_DATA_CONTEXT)) == VALID_FORM
    assert OrmWriter.form(VALID_FORM) is VALID_FORM  # bulk_create: the field encrypts it


BEFORE = [("dossiers", "0013_dossierdocument_blob")]
AFTER = [("dossiers", "0015_form_data_encrypt")]


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # jsonb may come back decoded


@pytest.mark.django_db(transaction=True)
def test_migrations_encrypt_the_stored_forms_and_decrypt_them_back(submit, monkeypatch):
    dossier, _ = submit()
    try:
        executor = migrate(BEFORE)
        OldDossier = executor.loader.project_state(BEFORE).apps.get_model("dossiers", "Dossier")
        plain = {**VALID_FORM, "address": "12 Lê Lợi, phường Bến Thành"}
        OldDossier.objects.filter(pk=dossier.pk).update(form_data=plain)
        base = OldDossier.objects.values().get(pk=dossier.pk)
        # more rows than one batch, so that the batches and their seams are exercised
        monkeypatch.setattr("hcmgov.dossiers.migrations.0015_form_data_encrypt.BATCH", 7, raising=False)
        copies = [
            OldDossier(**{**base, "id": None, "code": f"X-{i}", "form_data": {**plain, "n": i}}) for i in range(20)
        ]
        OldDossier.objects.bulk_create(copies)
        assert PERSONAL_ID in json.dumps(as_json(raw_forms()[dossier.pk]), ensure_ascii=False)

        migrate(AFTER)
        raw = raw_forms()
        assert len(raw) == 21
        assert all(v.startswith("v1:") and PERSONAL_ID not in v for v in raw.values())
        assert json.loads(crypto.decrypt_text(raw[dossier.pk], context=FORM_DATA_CONTEXT)) == plain
        # only the form: at 0015 the later encrypted columns still hold plain JSON
        assert Dossier.objects.only("form_data").get(pk=dossier.pk).form_data == plain
        assert sorted(d["n"] for d in Dossier.objects.exclude(pk=dossier.pk).values_list("form_data", flat=True)) == (
            list(range(20))
        )

        migrate(BEFORE)
        back = {pk: as_json(v) for pk, v in raw_forms().items()}
        assert back[dossier.pk] == plain
        assert sorted(v["n"] for pk, v in back.items() if pk != dossier.pk) == list(range(20))
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())


# --- the engine's state and the post's addressee (migrations 0016–0017) ---------------------------------


def raw_columns(pk: int) -> tuple[Any, Any]:
    with connection.cursor() as cur:
        cur.execute("SELECT workflow_state, delivery_to FROM dossiers_dossier WHERE id = %s", [pk])
        return cur.fetchone()


@pytest.mark.django_db
def test_the_engine_state_and_the_addressee_are_ciphertext(submit):
    dossier, _ = submit()
    address = {"name": "Nguyễn Văn An", "phone": "0903123456", "address": "12 Lê Lợi", "ward_code": "26734"}
    Dossier.objects.filter(pk=dossier.pk).update(delivery_to=address)
    state, delivery = raw_columns(dossier.pk)
    assert delivery.startswith("v1:")
    assert "0903123456" not in delivery
    assert json.loads(crypto.decrypt_text(delivery, context=DELIVERY_TO_CONTEXT)) == address
    fresh = Dossier.objects.get(pk=dossier.pk)
    assert fresh.delivery_to == address
    if fresh.workflow_state is not None:  # a procedure with a flow
        assert state.startswith("v1:")
        assert json.loads(crypto.decrypt_text(state, context=WORKFLOW_STATE_CONTEXT)) == fresh.workflow_state
    Dossier.objects.filter(pk=dossier.pk).update(delivery_to=None)
    assert raw_columns(dossier.pk)[1] is None


def test_the_demo_copy_writer_encrypts_each_engine_state():
    text = json.dumps({"tasks": {"a": 1}})
    first = CopyWriter.engine_state(text)
    assert first != CopyWriter.engine_state(text)
    assert json.loads(crypto.decrypt_text(first, context=WORKFLOW_STATE_CONTEXT)) == {"tasks": {"a": 1}}
    assert OrmWriter.engine_state(text) == {"tasks": {"a": 1}}


@pytest.mark.django_db(transaction=True)
def test_migrations_encrypt_the_engine_state_and_the_addressee_and_decrypt_them_back(submit, monkeypatch):
    dossier, _ = submit()
    before, after = [("dossiers", "0015_form_data_encrypt")], [("dossiers", "0017_state_delivery_encrypt")]
    address = {"name": "Trần Thị Bình", "phone": "0912000111", "address": "5 Hai Bà Trưng", "ward_code": "26740"}
    try:
        executor = migrate(before)
        OldDossier = executor.loader.project_state(before).apps.get_model("dossiers", "Dossier")
        OldDossier.objects.filter(pk=dossier.pk).update(workflow_state={"step": "a"}, delivery_to=address)
        base = OldDossier.objects.values().get(pk=dossier.pk)
        monkeypatch.setattr("hcmgov.dossiers.migrations.0017_state_delivery_encrypt.BATCH", 3, raising=False)
        OldDossier.objects.bulk_create([
            OldDossier(**{**base, "id": None, "code": f"Y-{i}", "workflow_state": {"n": i},
                          "delivery_to": None if i % 2 else {**address, "n": i}})
            for i in range(8)
        ])  # fmt: skip
        migrate(after)
        state, delivery = raw_columns(dossier.pk)
        assert state.startswith("v1:")
        assert delivery.startswith("v1:")
        assert "0912000111" not in delivery
        # the columns of 0017 only (the model has later ones)
        at_0017 = Dossier.objects.only("code", "workflow_state", "delivery_to")
        assert at_0017.get(pk=dossier.pk).delivery_to == address
        assert at_0017.get(pk=dossier.pk).workflow_state == {"step": "a"}
        others = at_0017.exclude(pk=dossier.pk).order_by("code")
        assert [d.workflow_state["n"] for d in others] == list(range(8))
        assert [d.delivery_to and d.delivery_to["n"] for d in others] == [0, None, 2, None, 4, None, 6, None]
        migrate(before)
        state, delivery = raw_columns(dossier.pk)
        assert as_json(state) == {"step": "a"}
        assert as_json(delivery) == address
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
