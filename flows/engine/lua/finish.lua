-- Record the end of an attempt and move the run on. The runner keeps the run's task: when
-- there is a next step (or a retry at once), it is claimed here for the same runner and
-- returned, so a run moves from step to step with one call. A retry after a wait hands the
-- task back instead: the run waits in the delayed set until promote.lua queues it anew. Only
-- the runner that holds the attempt may finish it; one whose attempt was taken over gets
-- 'lost' and must leave the task alone.
-- KEYS: flow, step, events, queue, next step (the step itself when there is none), delayed
-- ARGV: task_id, attempt, consumer, outcome ('completed' | 'failed'), output_json, error,
--       logs_json, channel, group, next_step_id ('' when last), step key prefix, retention,
--       retry_delay (seconds to wait before a retry; 0 retries at once)
-- Returns a claim (see claim_current_step) or {'done', outcome}, outcome being 'completed',
-- 'failed', 'waiting' (a retry is due later), 'stale' or 'lost'.
local task_id, attempt, consumer, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local channel, group, next_step = ARGV[8], ARGV[9], ARGV[10]
local step = redis.call('HMGET', KEYS[2], 'status', 'attempt_count', 'owner', 'max_attempts',
  'attempts', 'step_id', 'retry_base', 'flow_id')
if step[3] ~= consumer or step[2] ~= attempt then return {'done', 'lost'} end
if step[1] ~= 'running' then
  -- Cancelled while it ran: nothing moves on, but the task is ours to drop.
  finish_task(KEYS[4], group, task_id)
  return {'done', 'stale'}
end
local t = now()
local flow_id, step_id = step[8], step[6]
local attempts = cjson.decode(step[5])
local last = attempts[#attempts]
last.finished_at = t
last.result = outcome
if ARGV[6] ~= '' then last.error = ARGV[6] end
local name = redis.call('HGET', KEYS[1], 'name')
local function continue_run()
  return claim_current_step(KEYS[1], KEYS[3], task_id, consumer, channel, ARGV[11], false)
end
if outcome == 'completed' then
  redis.call('HSET', KEYS[2], 'status', 'completed', 'output', ARGV[5], 'error', '',
    'logs', ARGV[7], 'finished_at', t, 'attempts', cjson.encode(attempts))
  emit(KEYS[3], channel, step_event(flow_id, step_id, 'completed', attempt, t))
  -- Appended as text: decoding the list at every step would cost more the longer the run.
  local done = redis.call('HGET', KEYS[1], 'completed_steps')
  local entry = cjson.encode(step_id)
  if done == '[]' or done == '{}' then
    done = '[' .. entry .. ']'
  else
    done = string.sub(done, 1, -2) .. ',' .. entry .. ']'
  end
  if next_step ~= '' then
    redis.call('HSET', KEYS[5], 'task', task_id)
    redis.call('HSET', KEYS[1], 'completed_steps', done, 'current_step', next_step,
      'updated_at', t)
    emit(KEYS[3], channel, flow_event(flow_id, name, 'running', next_step, t))
    return continue_run()
  end
  redis.call('HSET', KEYS[1], 'status', 'completed', 'completed_steps', done,
    'finished_at', t, 'updated_at', t)
  emit(KEYS[3], channel, flow_event(flow_id, name, 'completed', step_id, t))
elseif tonumber(attempt) - tonumber(step[7]) < tonumber(step[4]) then
  local delay = tonumber(ARGV[13])
  if delay <= 0 then
    redis.call('HSET', KEYS[2], 'status', 'pending', 'error', ARGV[6], 'logs', ARGV[7],
      'attempts', cjson.encode(attempts))
    emit(KEYS[3], channel, step_event(flow_id, step_id, 'pending', attempt, t, ARGV[6]))
    return continue_run()
  end
  -- The runner slot is not held while the step waits: the task is dropped, and the run waits
  -- in the delayed set (which outlives any runner) until it is due.
  local due = string.format('%.6f', tonumber(t) + delay)
  redis.call('HSET', KEYS[2], 'status', 'pending', 'error', ARGV[6], 'logs', ARGV[7],
    'attempts', cjson.encode(attempts), 'next_attempt_at', due, 'task', '', 'owner', '')
  emit(KEYS[3], channel, step_event(flow_id, step_id, 'pending', attempt, t, ARGV[6]))
  redis.call('ZADD', KEYS[6], due, flow_id)
  finish_task(KEYS[4], group, task_id)
  return {'done', 'waiting'}
else
  local error = 'step ' .. step_id .. ' failed: ' .. ARGV[6]
  redis.call('HSET', KEYS[2], 'status', 'failed', 'error', ARGV[6], 'logs', ARGV[7],
    'finished_at', t, 'attempts', cjson.encode(attempts))
  emit(KEYS[3], channel, step_event(flow_id, step_id, 'failed', attempt, t, ARGV[6]))
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', error, 'finished_at', t,
    'updated_at', t)
  emit(KEYS[3], channel, flow_event(flow_id, name, 'failed', step_id, t, error))
end
expire_run(KEYS[1], ARGV[11], redis.call('HGET', KEYS[1], 'definition'), ARGV[12])
finish_task(KEYS[4], group, task_id)
return {'done', outcome}
