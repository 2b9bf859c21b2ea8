-- Read up to COUNT new tasks for this runner and claim each one's step, in one call: under
-- load a runner takes a batch of work with a single round trip.
-- KEYS: queue, events
-- ARGV: group, consumer, count, flow key prefix, step key prefix, channel prefix, retention
-- Returns a list of {task_id, flow_id, claim} (see claim_step).
return take_tasks(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], {ARGV[4], ARGV[5], ARGV[6]},
  ARGV[7])
