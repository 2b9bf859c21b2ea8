from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0016_failure_alerts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="runrecord",
            index=models.Index(
                fields=["name", "status", "created_at", "started_at", "finished_at"],
                name="run_by_flow_status",
            ),
        ),
        migrations.AddIndex(
            model_name="runrecord",
            index=models.Index(fields=["status", "-finished_at"], name="run_latest_by_status"),
        ),
    ]
