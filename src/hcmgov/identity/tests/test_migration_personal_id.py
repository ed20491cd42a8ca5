"""Migrations 0004–0005 encrypt the personal IDs already stored and fill their blind indexes;
reversed, the plain values come back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from hcmgov.common import crypto
from hcmgov.identity.models import PERSONAL_ID_CONTEXT, User, personal_id_index
from hcmgov.identity.selectors import user_by_personal_id

BEFORE = [("identity", "0003_consent")]
AFTER = [("identity", "0005_personal_id_encrypt")]


def raw_column() -> dict[str, str | None]:
    with connection.cursor() as cur:
        cur.execute("SELECT username, personal_id FROM identity_user")
        return dict(cur.fetchall())


def migrate(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor


@pytest.mark.django_db(transaction=True)
def test_existing_personal_ids_are_encrypted_indexed_and_decrypted_back():
    executor = migrate(BEFORE)
    OldUser = executor.loader.project_state(BEFORE).apps.get_model("identity", "User")
    OldUser.objects.create(username="an", personal_id="079000000001")
    OldUser.objects.create(username="binh", personal_id="")  # blank: becomes none
    OldUser.objects.create(username="canbo", personal_id=None)

    try:
        migrate(AFTER)
        raw = raw_column()
        assert crypto.decrypt_text(raw["an"], context=PERSONAL_ID_CONTEXT) == "079000000001"
        assert raw["binh"] is None
        assert raw["canbo"] is None
        an = user_by_personal_id(personal_id="079000000001")
        assert an is not None
        assert an.username == "an"
        assert an.personal_id == "079000000001"
        assert an.personal_id_index == personal_id_index("079000000001")
        assert User.objects.filter(personal_id_index__isnull=True).count() == 2

        migrate(BEFORE)
        assert raw_column() == {"an": "079000000001", "binh": None, "canbo": None}
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
