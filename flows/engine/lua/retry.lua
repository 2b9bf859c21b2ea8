-- Send a failed step back to Pending and resume its run from there. Completed steps keep their
-- outputs; attempt_count keeps counting, with a fresh retry budget. Idempotent: a step that is
-- not failed (already pending again after a double click, say) is left alone.
-- KEYS: flow, step, events, queue
-- ARGV: channel, replacement definition_json ('' to keep), replacement max_attempts ('' to keep),
--       step key prefix
local channel = ARGV[1]
local flow = redis.call('HMGET', KEYS[1], 'status', 'flow_id', 'name', 'definition')
if not flow[1] then return {'missing', 'no such run'} end
local step = redis.call('HMGET', KEYS[2], 'status', 'step_id', 'attempt_count')
if not step[1] then return {'missing', 'no such step in this run'} end
if step[1] ~= 'failed' or flow[1] ~= 'failed' then
  return {'noop', 'step ' .. step[2] .. ' is ' .. step[1] .. ' and the run is ' .. flow[1]}
end
local t = now()
persist_run(KEYS[1], ARGV[4], flow[4])
local task = enqueue(KEYS[4], flow[2])
redis.call('HSET', KEYS[2], 'status', 'pending', 'error', '', 'finished_at', '', 'task', task,
  'owner', '', 'retry_base', step[3])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'max_attempts', ARGV[3]) end
redis.call('HSET', KEYS[1], 'status', 'running', 'current_step', step[2], 'error', '',
  'finished_at', '', 'updated_at', t)
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'definition', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'patched', 1)
end
emit(KEYS[3], channel, step_event(flow[2], step[2], 'pending', step[3], t))
emit(KEYS[3], channel, flow_event(flow[2], flow[3], 'running', step[2], t))
return {'ok', task}
