"""Schedules: flows launched on a cron expression, by the scheduler every web process and
every `runflows` runs."""
