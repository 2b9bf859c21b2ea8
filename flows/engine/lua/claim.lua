-- Claim the current step of the run whose task a runner just read or took over.
-- KEYS: flow, events
-- ARGV: task_id, consumer, channel, step key prefix ("step:{flow_id}:")
return claim_current_step(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], true)
