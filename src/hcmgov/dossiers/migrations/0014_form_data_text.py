"""``Dossier.form_data`` becomes a text column, to hold its ciphertext; 0015 encrypts the values.

On PostgreSQL the ``jsonb`` values become their JSON text (``form_data::text``, one rewrite of
the table); reversed, the text is cast back to ``jsonb``. SQLite kept the JSON as text already."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0013_dossierdocument_blob"),
    ]

    operations = [
        migrations.AlterField(
            model_name="dossier",
            name="form_data",
            field=models.TextField(editable=False),
        ),
    ]
