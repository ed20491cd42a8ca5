"""The engine's state and the post's addressee (name, phone, address) are encrypted at rest, as
the form data is (hcmgov.common.crypto, docs/decisions/0017; 0015 for the method): each non-NULL
value, its JSON text as 0016 left it, is encrypted under the newest key of ``HCMGOV_DATA_KEYS``,
read in one pass and written back 1,000 to a statement; a value already a ciphertext is left as
it is, so a rerun after a failure carries on. Reversible while the keys are at hand."""

from collections.abc import Callable, Iterator

from django.db import migrations

import hcmgov.common.crypto

CONTEXTS = {"workflow_state": "dossiers.dossier.workflow_state", "delivery_to": "dossiers.dossier.delivery_to"}
BATCH = 1000


def _rows(Dossier, connection, column: str) -> Iterator[tuple[int, str]]:
    rows = (
        Dossier.objects.using(connection.alias)
        .filter(**{f"{column}__isnull": False})
        .order_by("pk")
        .values_list("pk", column)
    )
    if connection.vendor == "postgresql":
        yield from rows.iterator(chunk_size=BATCH * 2)
        return
    after = 0  # SQLite does not isolate a read from writes on the same connection: a page at a time
    while page := list(rows.filter(pk__gt=after)[:BATCH]):
        yield from page
        after = page[-1][0]


def _write(connection, table: str, column: str, changed: list[tuple[int, str]]) -> None:
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s::bigint, %s::text)"] * len(changed))
            cur.execute(
                f"UPDATE {q(table)} AS d SET {q(column)} = v.value "  # noqa: S608 - our own names
                f"FROM (VALUES {values}) AS v(id, value) WHERE d.id = v.id",
                [x for row in changed for x in row],
            )
        else:
            cur.executemany(
                f"UPDATE {q(table)} SET {q(column)} = %s WHERE id = %s",  # noqa: S608 - as above
                [(text, pk) for pk, text in changed],
            )


def _rewrite(apps, schema_editor, change: Callable[[str, str], str | None]) -> None:
    Dossier = apps.get_model("dossiers", "Dossier")
    connection = schema_editor.connection
    for column, context in CONTEXTS.items():
        changed: list[tuple[int, str]] = []
        for pk, value in _rows(Dossier, connection, column):
            new = change(value, context)
            if new is not None:
                changed.append((pk, new))
            if len(changed) >= BATCH:
                _write(connection, Dossier._meta.db_table, column, changed)
                changed = []
        if changed:
            _write(connection, Dossier._meta.db_table, column, changed)


def encrypt(apps, schema_editor):
    from hcmgov.common.crypto import encrypt_text

    _rewrite(apps, schema_editor, lambda v, ctx: None if v.startswith("v1:") else encrypt_text(v, context=ctx))


def decrypt(apps, schema_editor):
    from hcmgov.common.crypto import decrypt_text

    _rewrite(apps, schema_editor, lambda v, ctx: decrypt_text(v, context=ctx) if v.startswith("v1:") else None)


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0016_state_delivery_text"),
    ]

    operations = [
        migrations.RunPython(encrypt, decrypt),
        migrations.AlterField(
            model_name="dossier",
            name="workflow_state",
            field=hcmgov.common.crypto.EncryptedJSONField(
                blank=True, context=CONTEXTS["workflow_state"], editable=False, null=True
            ),
        ),
        migrations.AlterField(
            model_name="dossier",
            name="delivery_to",
            field=hcmgov.common.crypto.EncryptedJSONField(
                blank=True,
                context=CONTEXTS["delivery_to"],
                help_text="name, phone, address, ward_code (encrypted)",
                null=True,
            ),
        ),
    ]
