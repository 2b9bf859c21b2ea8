-- Cancel a live or queued run: the run and its unfinished steps become Cancelled, runners are
-- told to stop the steps they are running for it, and its concurrency slots (or its place in
-- the line for one) go to the runs queued behind it.
-- KEYS: flow, events, queue, step keys
-- ARGV: channel, cancel channel, retention, flow key prefix, step key prefix, channel prefix
engine_keys(KEYS[3], KEYS[2], {ARGV[4], ARGV[5], ARGV[6]})
local flow = redis.call('HMGET', KEYS[1], 'status', 'flow_id', 'name', 'current_step')
if not flow[1] then return {'missing', 'no such run'} end
if flow[1] ~= 'created' and flow[1] ~= 'running' and flow[1] ~= 'queued' then
  return {'noop', 'the run is already ' .. flow[1]}
end
local t = now()
for i = 4, #KEYS do
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
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  for i = 4, #KEYS do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
end
release_slots(KEYS[1], flow[2], t)
return {'ok', ''}
