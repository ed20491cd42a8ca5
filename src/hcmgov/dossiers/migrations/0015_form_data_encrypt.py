"""A dossier's form data is encrypted at rest (hcmgov.common.crypto, docs/decisions/0017).

Each stored form (its JSON text, as 0014 left it) is encrypted under the newest key of
``HCMGOV_DATA_KEYS``. Nothing looks inside form data in SQL, so no blind index is kept. The last
step changes no column (both are text): it only tells the model state that the values are
ciphertext from now on.

Sized for a city's worth of dossiers: the rows are read in one pass (a server-side cursor on
PostgreSQL; pages by primary key elsewhere) and written back 1,000 to a statement
(``UPDATE … FROM (VALUES …)`` on PostgreSQL). A value that is already a ciphertext is left as it
is, so a rerun after a failure carries on. Reversible while the keys are at hand: reversed, the
values are decrypted back to JSON text (and 0014 reversed casts them back to ``jsonb``).

Neither the form data nor the engine state (which carries the form's facts) is editable from now
on: an audit snapshot of every field (``dossier.submit``) leaves them out instead of copying them
there in clear. That changes no column either.
"""

from collections.abc import Callable, Iterator

from django.db import migrations, models

import hcmgov.common.crypto

CONTEXT = "dossiers.dossier.form_data"  # never changes: it is bound into every ciphertext
BATCH = 1000


def _rows(Dossier, connection) -> Iterator[tuple[int, str]]:
    """(pk, form_data text) of every dossier, by ascending primary key."""
    rows = Dossier.objects.using(connection.alias).order_by("pk").values_list("pk", "form_data")
    if connection.vendor == "postgresql":
        # a server-side cursor: its snapshot does not see the updates made while it is read
        yield from rows.iterator(chunk_size=BATCH * 2)
        return
    # SQLite does not isolate a read from writes on the same connection: a list at a time
    after = 0
    while page := list(rows.filter(pk__gt=after)[:BATCH]):
        yield from page
        after = page[-1][0]


def _write(connection, table: str, changed: list[tuple[int, str]]) -> None:
    q = connection.ops.quote_name
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            values = ", ".join(["(%s::bigint, %s::text)"] * len(changed))
            cur.execute(
                f"UPDATE {q(table)} AS d SET form_data = v.form_data "  # noqa: S608 - our own table name
                f"FROM (VALUES {values}) AS v(id, form_data) WHERE d.id = v.id",
                [x for row in changed for x in row],
            )
        else:
            cur.executemany(
                f"UPDATE {q(table)} SET form_data = %s WHERE id = %s",  # noqa: S608 - as above
                [(text, pk) for pk, text in changed],
            )


def _rewrite(apps, schema_editor, change: Callable[[str], str | None]) -> None:
    connection = schema_editor.connection
    Dossier = apps.get_model("dossiers", "Dossier")
    changed: list[tuple[int, str]] = []
    for pk, value in _rows(Dossier, connection):
        new = change(value)
        if new is not None:
            changed.append((pk, new))
        if len(changed) >= BATCH:
            _write(connection, Dossier._meta.db_table, changed)
            changed = []
    if changed:
        _write(connection, Dossier._meta.db_table, changed)


def encrypt(apps, schema_editor):
    from hcmgov.common.crypto import encrypt_text

    def change(value: str) -> str | None:
        # JSON text never starts so; a ciphertext is left as it is (a rerun)
        return None if value.startswith("v1:") else encrypt_text(value, context=CONTEXT)

    _rewrite(apps, schema_editor, change)


def decrypt(apps, schema_editor):
    from hcmgov.common.crypto import decrypt_text

    def change(value: str) -> str | None:
        return decrypt_text(value, context=CONTEXT) if value.startswith("v1:") else None

    _rewrite(apps, schema_editor, change)


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0014_form_data_text"),
    ]

    operations = [
        migrations.RunPython(encrypt, decrypt),
        migrations.AlterField(
            model_name="dossier",
            name="form_data",
            field=hcmgov.common.crypto.EncryptedJSONField(context=CONTEXT, editable=False),
        ),
        migrations.AlterField(
            model_name="dossier",
            name="workflow_state",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
    ]
