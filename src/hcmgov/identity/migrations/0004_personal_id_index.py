"""The personal ID gets a blind index column (unique, in place of the ID's own uniqueness) and
becomes a text column wide enough for its ciphertext; 0005 encrypts the values."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0003_consent"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="personal_id_index",
            field=models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name="user",
            name="personal_id",
            field=models.TextField(blank=True, null=True),
        ),
    ]
