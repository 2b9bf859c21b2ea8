"""The archive keeps a run in the engine's versioned form, not in its Redis layout.

RunRecord's `state` and `steps` held the run's Redis hashes as they were, so the archive's schema
was the engine's private layout. `snapshot` holds `RunSnapshot.to_dict()` instead (as JSON text,
stamped with its version); each row's hashes are read the way the engine reads them from Redis
(`RunSnapshot.from_hashes`) and written in that form. A row with no hashes (made by hand or by a
benchmark, never renderable) gets an empty snapshot.

Backwards, the hashes are written again from the snapshot, with every field the engine read from
them at 0007: the fields only the transitions used (task, owner, retry base...) were never
archived for reading, and an archived run is never moved again.
"""

import json
from datetime import datetime

from django.db import migrations, models

from flows.engine.state import RunSnapshot

BATCH = 500


def _snapshots(apps, schema_editor):
    def snapshot(record):
        run = RunSnapshot.from_hashes(record.state, record.steps)
        record.snapshot = json.dumps(run.to_dict(), separators=(",", ":"))

    rows = _rows(apps, schema_editor).exclude(state={})
    _rewrite(rows, ["state", "steps"], ["snapshot"], snapshot)


def _hashes(apps, schema_editor):
    def hashes(record):
        run = json.loads(record.snapshot)
        record.state = _flow_hash(run["flow"])
        record.steps = [_step_hash(step) for step in run["steps"]]

    rows = _rows(apps, schema_editor).exclude(snapshot="")
    _rewrite(rows, ["snapshot"], ["state", "steps"], hashes)


def _rows(apps, schema_editor):
    return apps.get_model("flows", "RunRecord").objects.using(schema_editor.connection.alias)


def _rewrite(rows, read, written, change):
    """Apply `change` to every row, reading only the fields it reads, BATCH rows at a time."""
    every_row = rows.model.objects.using(rows.db)
    changed = []
    for record in rows.only("pk", *read).iterator(chunk_size=BATCH):
        change(record)
        changed.append(record)
        if len(changed) == BATCH:
            every_row.bulk_update(changed, written)
            changed = []
    every_row.bulk_update(changed, written)


def _seconds(moment):
    """A time as the scripts write it: Unix seconds from Redis' clock, to the microsecond."""
    return f"{datetime.fromisoformat(moment).timestamp():.6f}" if moment else ""


def _flow_hash(flow):
    return {
        "flow_id": flow["flow_id"],
        "name": flow["name"],
        "status": flow["status"],
        "current_step": flow["current_step"],
        "completed_steps": json.dumps(flow["completed_steps"]),
        "input": json.dumps(flow["input"]),
        "error": flow["error"],
        "definition": json.dumps(flow["definition"], separators=(",", ":")),
        "meta": json.dumps(flow["meta"]),
        "patched": str(flow["patch_count"]),
        **{name: _seconds(flow[name]) for name in _FLOW_TIMES},
    }


def _step_hash(step):
    attempts = [
        {
            "attempt": attempt["number"],
            "runner": attempt["runner"],
            "started_at": _seconds(attempt["started_at"]),
            "finished_at": _seconds(attempt["finished_at"]),
            "result": attempt["result"],
            "error": attempt["error"],
        }
        for attempt in step["attempts"]
    ]
    return {
        "flow_id": step["flow_id"],
        "step_id": step["step_id"],
        "status": step["status"],
        "attempt_count": str(step["attempt_count"]),
        "output": "" if step["output"] is None else json.dumps(step["output"]),
        "error": step["error"],
        "logs": json.dumps(step["logs"]),
        "attempts": json.dumps(attempts),
        **{name: _seconds(step[name]) for name in _STEP_TIMES},
    }


_FLOW_TIMES = ("created_at", "started_at", "finished_at", "updated_at")
_STEP_TIMES = ("created_at", "started_at", "finished_at", "next_attempt_at")


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0007_flow_allowed_hosts"),
    ]

    operations = [
        migrations.AddField(
            model_name="runrecord",
            name="snapshot",
            field=models.TextField(
                blank=True,
                default="",
                help_text="The run as RunSnapshot.to_dict() (versioned), in JSON.",
            ),
            preserve_default=False,
        ),
        migrations.RunPython(_snapshots, _hashes),
        migrations.RemoveField(model_name="runrecord", name="state"),
        migrations.RemoveField(model_name="runrecord", name="steps"),
    ]
