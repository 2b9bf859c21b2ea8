"""Failure alerts: a failed run is told to the alert destinations of its flow and of every
flow (recording.py, from the archiver), at most once per flow, step and error signature in a
throttle window and then as a digest, and sent by a background service that retries with
backoff (sending.py), never in the runner or a request."""
