-- Shared by every engine script (prepended when the script is loaded).

-- Redis server time, as "seconds.microseconds", so all runners agree on the clock.
local function now()
  local t = redis.call('TIME')
  return t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
end

-- Record a transition in the capped events stream, tell the run's listeners at once, and note
-- the run as changed (by its latest event's time) for the archive: changes.py.
local function emit(events_key, channel, event)
  local payload = cjson.encode(event)
  redis.call('XADD', events_key, 'MAXLEN', '~', 100000, '*', 'event', payload)
  redis.call('PUBLISH', channel, payload)
  local changed_key = events_key .. ':changed'  -- Keys.changed_runs
  if redis.call('ZADD', changed_key, event.at, event.flow_id) == 1 then
    -- One more run waits for the archive: as many as the events stream holds events, at most.
    redis.call('ZREMRANGEBYRANK', changed_key, 0, -100001)
  end
end

local function step_event(flow_id, step_id, status, attempt_count, at, error)
  return {kind = 'step', flow_id = flow_id, step_id = step_id, status = status,
          attempt_count = tonumber(attempt_count), at = at, error = error or ''}
end

local function flow_event(flow_id, name, status, current_step, at, error)
  return {kind = 'flow', flow_id = flow_id, name = name, status = status,
          current_step = current_step, at = at, error = error or ''}
end

-- A task is done with once its step has moved on: drop it from the group and the stream.
local function finish_task(queue_key, group, task_id)
  redis.call('XACK', queue_key, group, task_id)
  redis.call('XDEL', queue_key, task_id)
end

-- Once a run has ended, its state need only outlive the retention (seconds; 0 keeps it).
local function expire_run(flow_key, step_prefix, definition_json, retention)
  if tonumber(retention) <= 0 then return end
  redis.call('EXPIRE', flow_key, retention)
  for _, step in ipairs(cjson.decode(definition_json).steps) do
    redis.call('EXPIRE', step_prefix .. step.name, retention)
  end
end

-- A run that goes on again (retry) is kept until it ends anew.
local function persist_run(flow_key, step_prefix, definition_json)
  redis.call('PERSIST', flow_key)
  for _, step in ipairs(cjson.decode(definition_json).steps) do
    redis.call('PERSIST', step_prefix .. step.name)
  end
end

-- A run has one task in the queue at a time; whoever holds it runs the run's current step.
local function enqueue(queue_key, flow_id)
  return redis.call('XADD', queue_key, '*', 'flow_id', flow_id)
end

-- A step keeps its last attempts in full; attempt_count keeps counting them all.
local KEPT_ATTEMPTS = 50

-- Claim the run's current step for one attempt by `consumer`, holding task `task_id`.
-- Only the task recorded on the step may run it, and only while the run is live. A step found
-- 'running' was held by a runner whose lease lapsed (it died): that attempt is recorded as
-- lost and this claim takes over.
-- A runner that already runs the run (finish.lua moving it on) knows its input, definition and
-- outputs: then `full` is false and they are left out, so a step's cost does not grow with the
-- steps before it. Otherwise (a task read anew, taken over or requeued) they come with it.
-- Returns {'run', step_id, attempt, retry_base[, input_json, definition_json, outputs_json]}
--      or {'skip', reason}.
local function claim_current_step(flow_key, events_key, task_id, consumer, channel, step_prefix,
                                  full)
  local flow = redis.call('HMGET', flow_key, 'status', 'flow_id', 'name', 'current_step')
  if flow[1] ~= 'created' and flow[1] ~= 'running' then
    return {'skip', 'run is ' .. tostring(flow[1])}
  end
  local step_id = flow[4]
  local step_key = step_prefix .. step_id
  local step = redis.call('HMGET', step_key, 'status', 'task', 'attempt_count', 'attempts',
    'retry_base', 'started_at')
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
  while #attempts > KEPT_ATTEMPTS do table.remove(attempts, 1) end
  local started_at = step[6]
  if started_at == '' then started_at = t end
  redis.call('HSET', step_key, 'status', 'running', 'attempt_count', attempt, 'owner', consumer,
    'started_at', started_at, 'finished_at', '', 'next_attempt_at', '',
    'attempts', cjson.encode(attempts))
  emit(events_key, channel, step_event(flow[2], step_id, 'running', attempt, t))
  if flow[1] == 'created' then
    redis.call('HSET', flow_key, 'status', 'running', 'started_at', t, 'updated_at', t)
    emit(events_key, channel, flow_event(flow[2], flow[3], 'running', step_id, t))
  end
  if not full then return {'run', step_id, attempt, tonumber(step[5])} end
  local run = redis.call('HMGET', flow_key, 'input', 'definition', 'completed_steps')
  local outputs = {}
  for _, name in ipairs(cjson.decode(run[3])) do
    local output = redis.call('HGET', step_prefix .. name, 'output')
    outputs[#outputs + 1] = cjson.encode(name) .. ':' .. (output or 'null')
  end
  return {'run', step_id, attempt, tonumber(step[5]), run[1], run[2],
    '{' .. table.concat(outputs, ',') .. '}'}
end
