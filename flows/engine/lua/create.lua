-- Create a run: its flow hash, one hash per step, and the task for the first step.
-- KEYS: flow, queue, events, runs, step keys in order
-- ARGV: flow_id, name, input_json, definition_json, meta_json, channel, retention, then per
--       step: step_id, max_attempts
local flow_id, name, channel, retention = ARGV[1], ARGV[2], ARGV[6], tonumber(ARGV[7])
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('run ' .. flow_id .. ' already exists')
end
local t = now()
local first_step = ARGV[8]
for i = 5, #KEYS do
  local arg = 8 + (i - 5) * 2
  redis.call('HSET', KEYS[i], 'flow_id', flow_id, 'step_id', ARGV[arg], 'status', 'pending',
    'attempt_count', 0, 'max_attempts', ARGV[arg + 1], 'retry_base', 0, 'output', '',
    'error', '', 'logs', '[]', 'attempts', '[]', 'next_attempt_at', '', 'created_at', t,
    'started_at', '', 'finished_at', '', 'task', '', 'owner', '')
end
local task = enqueue(KEYS[2], flow_id)
redis.call('HSET', KEYS[5], 'task', task)
redis.call('HSET', KEYS[1], 'flow_id', flow_id, 'name', name, 'status', 'created',
  'current_step', first_step, 'completed_steps', '[]', 'input', ARGV[3], 'error', '',
  'definition', ARGV[4], 'meta', ARGV[5], 'patched', 0, 'created_at', t, 'started_at', '',
  'finished_at', '', 'updated_at', t)
redis.call('ZADD', KEYS[4], t, flow_id)
if retention > 0 then
  -- The index of runs forgets them when their state expires.
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (tonumber(t) - retention))
end
emit(KEYS[3], channel, flow_event(flow_id, name, 'created', first_step, t))
return task
