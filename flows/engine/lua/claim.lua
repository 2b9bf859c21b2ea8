-- Claim the step of the task a runner just read or took over.
-- KEYS: flow, events
-- ARGV: task_id, consumer, channel, step key prefix ("step:{flow_id}:"), retention, the task's
--       step_id ('' for a task queued before flows branched)
return claim_step(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], true)
