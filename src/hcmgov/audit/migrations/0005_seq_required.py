# Every event has its place in the chain now, and later ones get theirs just after their transaction
# commits (audit.chain.link_pending): seq empty until then, unique once set (no fork), and the few
# events waiting to be linked found by a partial index. (Named when seq was made required here.)

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0004_chain_existing_events'),
    ]

    operations = [
        migrations.AlterField(
            model_name='auditevent',
            name='seq',
            field=models.PositiveBigIntegerField(null=True, unique=True),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(condition=models.Q(('seq__isnull', True)), fields=['id'], name='audit_unlinked'),
        ),
    ]
