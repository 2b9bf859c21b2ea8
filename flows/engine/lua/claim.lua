-- Claim the step of the task a runner just read or took over.
-- KEYS: flow, events, queue
-- ARGV: task_id, consumer, channel, step key prefix ("step:{flow_id}:"), retention, the task's
--       step_id ('' for a task queued before flows branched), flow key prefix, step key prefix,
--       channel prefix (should the claim end the run, to start the runs queued behind it)
engine_keys(KEYS[3], KEYS[2], {ARGV[7], ARGV[8], ARGV[9]})
return claim_step(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], true)
