from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0014_flow_concurrency_limits"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="runrecord",
            index=models.Index(
                fields=["created_at", "status", "name", "started_at", "finished_at"],
                name="run_charts",
            ),
        ),
    ]
