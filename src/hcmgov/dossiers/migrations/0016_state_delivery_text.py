"""``Dossier.workflow_state`` and ``Dossier.delivery_to`` become text columns, to hold their
ciphertext; 0017 encrypts the values (as 0014 did for the form data: on PostgreSQL the ``jsonb``
values become their JSON text, NULL stays NULL)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0015_form_data_encrypt"),
    ]

    operations = [
        migrations.AlterField(
            model_name="dossier",
            name="workflow_state",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name="dossier",
            name="delivery_to",
            field=models.TextField(blank=True, null=True),
        ),
    ]
