-- Shared by every engine script (prepended when the script is loaded).

-- Redis server time, as "seconds.microseconds", so all runners agree on the clock.
local function now()
  local t = redis.call('TIME')
  return t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
end

-- Record a transition in the capped events stream and tell the run's listeners at once.
local function emit(events_key, channel, event)
  local payload = cjson.encode(event)
  redis.call('XADD', events_key, 'MAXLEN', '~', 100000, '*', 'event', payload)
  redis.call('PUBLISH', channel, payload)
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

local function enqueue(queue_key, flow_id, step_id)
  return redis.call('XADD', queue_key, '*', 'flow_id', flow_id, 'step_id', step_id)
end
