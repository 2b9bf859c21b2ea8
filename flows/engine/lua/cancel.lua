-- Cancel a live run: the run and its unfinished steps become Cancelled, and runners are told
-- to stop the steps they are running for it.
-- KEYS: flow, events, step keys
-- ARGV: channel, cancel channel, retention
local flow = redis.call('HMGET', KEYS[1], 'status', 'flow_id', 'name', 'current_step')
if not flow[1] then return {'missing', 'no such run'} end
if flow[1] ~= 'created' and flow[1] ~= 'running' then
  return {'noop', 'the run is already ' .. flow[1]}
end
local t = now()
for i = 3, #KEYS do
  local step = redis.call('HMGET', KEYS[i], 'status', 'step_id', 'attempt_count', 'attempts')
  if step[1] == 'pending' or step[1] == 'running' then
    redis.call('HSET', KEYS[i], 'status', 'cancelled', 'finished_at', t)
    if step[1] == 'running' then
      local attempts = cjson.decode(step[4])
      local last = attempts[#attempts]
      last.finished_at = t
      last.result = 'cancelled'
      redis.call('HSET', KEYS[i], 'attempts', cjson.encode(attempts))
    end
    emit(KEYS[2], ARGV[1], step_event(flow[2], step[2], 'cancelled', step[3], t))
  end
end
redis.call('HSET', KEYS[1], 'status', 'cancelled', 'error', 'cancelled', 'running_steps', '[]',
  'finished_at', t, 'updated_at', t)
emit(KEYS[2], ARGV[1], flow_event(flow[2], flow[3], 'cancelled', flow[4], t, 'cancelled'))
redis.call('PUBLISH', ARGV[2], flow[2])
if tonumber(ARGV[3]) > 0 then
  for i = 1, #KEYS do
    if i ~= 2 then redis.call('EXPIRE', KEYS[i], ARGV[3]) end
  end
end
return {'ok', ''}
