import backroom.kernel.ids
from django.db import migrations, models


class Migration(migrations.Migration):
    """New events get time-ordered ids (`kernel.ids.uuid7`). The default lives in Python only,
    so the database is left alone (SQLite would otherwise copy the whole outbox table)."""

    dependencies = [
        ("events", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="outboxevent",
                    name="event_id",
                    field=models.UUIDField(
                        default=backroom.kernel.ids.uuid7, editable=False, unique=True
                    ),
                ),
            ],
        ),
    ]
