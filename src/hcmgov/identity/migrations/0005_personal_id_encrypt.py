"""Personal IDs are encrypted at rest (hcmgov.common.crypto, docs/decisions/0017).

Each existing plain value is encrypted under the newest key of ``HCMGOV_DATA_KEYS`` and its blind
index filled; an empty value becomes none. The last step changes no column (both are text): it
only tells the model state that the values are ciphertext from now on.

Reversible while the keys are at hand: reversed, the values are decrypted back to plain text and
the indexes emptied (0004 reversed then drops them and restores the 12-character unique column).
"""

from django.db import migrations

import hcmgov.common.crypto

CONTEXT = "identity.user.personal_id"  # never changes: it is bound into every ciphertext


def _batches(User, alias):
    """(pk, value) of every row with a personal ID, a list at a time (not a cursor held open over
    the table being updated), by ascending primary key."""
    rows = User.objects.using(alias).exclude(personal_id__isnull=True).order_by("pk")
    after = 0
    while batch := list(rows.filter(pk__gt=after).values_list("pk", "personal_id")[:1000]):
        yield from batch
        after = batch[-1][0]


def encrypt(apps, schema_editor):
    from hcmgov.common.crypto import blind_index, encrypt_text

    User = apps.get_model("identity", "User")
    for pk, value in _batches(User, schema_editor.connection.alias):
        if value.startswith("v1:"):  # already a ciphertext: a personal ID is digits
            continue
        plain = value.strip()
        User.objects.using(schema_editor.connection.alias).filter(pk=pk).update(
            personal_id=encrypt_text(plain, context=CONTEXT) if plain else None,
            personal_id_index=blind_index(plain, context=CONTEXT) if plain else None,
        )


def decrypt(apps, schema_editor):
    from hcmgov.common.crypto import decrypt_text

    User = apps.get_model("identity", "User")
    for pk, token in _batches(User, schema_editor.connection.alias):
        plain = decrypt_text(token, context=CONTEXT) if token.startswith("v1:") else token
        User.objects.using(schema_editor.connection.alias).filter(pk=pk).update(personal_id=plain)
    User.objects.using(schema_editor.connection.alias).update(personal_id_index=None)


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0004_personal_id_index"),
    ]

    operations = [
        migrations.RunPython(encrypt, decrypt),
        migrations.AlterField(
            model_name="user",
            name="personal_id",
            field=hcmgov.common.crypto.EncryptedTextField(
                blank=True, context=CONTEXT, index="personal_id_index", null=True
            ),
        ),
    ]
