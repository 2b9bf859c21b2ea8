-- Read up to COUNT new tasks for this runner and claim each run's current step, in one call:
-- under load a runner takes a batch of work with a single round trip. Tasks that are not to
-- run (stale, or their run has ended) are dropped here.
-- KEYS: queue, events
-- ARGV: group, consumer, count, flow key prefix, step key prefix, channel prefix
-- Returns a list of {task_id, flow_id, claim} (see claim_current_step).
local group, consumer = ARGV[1], ARGV[2]
local answer = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', ARGV[3],
  'STREAMS', KEYS[1], '>')
local taken = {}
if not answer then return taken end
for _, message in ipairs(answer[1][2]) do
  local task_id, fields = message[1], message[2]
  local flow_id = fields[2]  -- tasks carry exactly one field: flow_id
  local claim = claim_current_step(ARGV[4] .. flow_id, KEYS[2], task_id, consumer,
    ARGV[6] .. flow_id, ARGV[5] .. flow_id .. ':', true)
  if claim[1] ~= 'run' then finish_task(KEYS[1], group, task_id) end
  taken[#taken + 1] = {task_id, flow_id, claim}
end
return taken
