"""PostgreSQL: a full-text index over components' folded recognised text (documents.search); other
databases search without it."""

from django.db import migrations

INDEX = (
    "CREATE INDEX IF NOT EXISTS component_text_words ON documents_component "
    "USING gin (to_tsvector('simple'::regconfig, text_search))"
)


def index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INDEX)


def unindex(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS component_text_words")


class Migration(migrations.Migration):
    dependencies = [("documents", "0001_initial")]
    operations = [migrations.RunPython(index, unindex)]
