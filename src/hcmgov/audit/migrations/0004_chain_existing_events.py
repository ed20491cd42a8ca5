# Link the events written before the chain existed, in id order, 500 per transaction (not one
# transaction for the whole table: a large trail is chained without holding it, and a run that
# stops goes on where it stopped). The hash is the application's own (audit.chain.event_hash):
# it must be the very one `hcmgov audit verify` checks.

from django.db import migrations


def chain_existing(apps, schema_editor):
    from hcmgov.audit.chain import link_pending

    link_pending(model=apps.get_model('audit', 'AuditEvent'), using=schema_editor.connection.alias)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('audit', '0003_hash_chain'),
    ]

    operations = [
        migrations.RunPython(chain_existing, migrations.RunPython.noop),
    ]
