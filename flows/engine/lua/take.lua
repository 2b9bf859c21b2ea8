-- Read up to COUNT new tasks for this runner and claim each one's step, in one call: under
-- load a runner takes a batch of work with a single round trip. Tasks that are not to run
-- (stale, or their run has ended) are dropped here.
-- KEYS: queue, events
-- ARGV: group, consumer, count, flow key prefix, step key prefix, channel prefix, retention
-- Returns a list of {task_id, flow_id, claim} (see claim_step).
local group, consumer = ARGV[1], ARGV[2]
local answer = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', ARGV[3],
  'STREAMS', KEYS[1], '>')
local taken = {}
if not answer then return taken end
for _, message in ipairs(answer[1][2]) do
  local task_id, fields = message[1], message[2]
  local task = {}
  for i = 1, #fields, 2 do task[fields[i]] = fields[i + 1] end
  local flow_id = task.flow_id
  local claim = claim_step(ARGV[4] .. flow_id, KEYS[2], task_id, consumer, ARGV[6] .. flow_id,
    ARGV[5] .. flow_id .. ':', ARGV[7], task.step_id or '', true, 0, '')
  if claim[1] ~= 'run' then finish_task(KEYS[1], group, task_id) end
  taken[#taken + 1] = {task_id, flow_id, claim}
end
return taken
