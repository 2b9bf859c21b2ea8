-- Claim a step task for one attempt. Safe to lose a race: only the task recorded on the step
-- may run it, and only while the run is live. A task found 'running' was held by a runner whose
-- lease lapsed (it died); that attempt is recorded as lost and this claim takes over.
-- KEYS: flow, step, events
-- ARGV: task_id, consumer, channel, step key prefix ("step:{flow_id}:")
-- Returns {'run', attempt, retry_base, input_json, definition_json, outputs_json}
--      or {'skip', reason}
local task_id, consumer, channel = ARGV[1], ARGV[2], ARGV[3]
local flow = redis.call('HMGET', KEYS[1], 'status', 'flow_id', 'name', 'input', 'definition',
  'completed_steps')
if flow[1] ~= 'created' and flow[1] ~= 'running' then
  return {'skip', 'run is ' .. tostring(flow[1])}
end
local step = redis.call('HMGET', KEYS[2], 'status', 'task', 'attempt_count', 'attempts',
  'step_id', 'retry_base', 'started_at')
if step[2] ~= task_id then return {'skip', 'task is stale'} end
local t = now()
local attempts = cjson.decode(step[4])
if step[1] == 'running' then
  local last = attempts[#attempts]
  if last then
    last.finished_at = t
    last.result = 'lost'
    last.error = 'runner ' .. tostring(last.runner) .. ' stopped renewing its lease'
  end
elseif step[1] ~= 'pending' then
  return {'skip', 'step is ' .. tostring(step[1])}
end
local attempt = tonumber(step[3]) + 1
attempts[#attempts + 1] = {attempt = attempt, runner = consumer, started_at = t}
local started_at = step[7]
if started_at == '' then started_at = t end
redis.call('HSET', KEYS[2], 'status', 'running', 'attempt_count', attempt, 'owner', consumer,
  'started_at', started_at, 'finished_at', '', 'attempts', cjson.encode(attempts))
emit(KEYS[3], channel, step_event(flow[2], step[5], 'running', attempt, t))
if flow[1] == 'created' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'started_at', t, 'current_step', step[5],
    'updated_at', t)
  emit(KEYS[3], channel, flow_event(flow[2], flow[3], 'running', step[5], t))
else
  redis.call('HSET', KEYS[1], 'current_step', step[5], 'updated_at', t)
end
local outputs = {}
for _, name in ipairs(cjson.decode(flow[6])) do
  local output = redis.call('HGET', ARGV[4] .. name, 'output')
  outputs[#outputs + 1] = cjson.encode(name) .. ':' .. (output or 'null')
end
return {'run', attempt, tonumber(step[6]), flow[4], flow[5], '{' .. table.concat(outputs, ',') .. '}'}
