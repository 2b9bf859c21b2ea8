-- Record the end of an attempt and move the run on. The runner keeps its task: when the step
-- made other steps ready, the first of them is claimed here for the same runner and returned
-- (the others are queued for any runner), so a straight line of steps moves with one call per
-- step; so is a retry at once. A retry after a wait hands the task back instead: the step waits
-- in the delayed set until promote.lua queues it anew. When the task is done with, the runner
-- may take its next task in the same call (`take_next`): parallel steps cost a call each too.
-- Only the runner that holds the attempt may finish it; one whose attempt was taken over, or
-- whose call already finished it, gets 'lost' and must leave the task alone.
-- KEYS: flow, step, events, queue, delayed
-- ARGV: task_id, attempt, consumer, outcome ('completed' | 'skipped' | 'failed'), output_json,
--       error, logs_json, channel, group, step key prefix, retention, retry_delay (seconds to
--       wait before a retry; 0 retries at once), take_next ('1' to take a new task once this one
--       is done with), flow key prefix, step key prefix, channel prefix (for that new task, and
--       to start the runs queued behind this one should it end)
-- Returns a claim (see claim_step), {'done', outcome} or {'next', outcome, {task_id, flow_id,
-- claim}} (a new task taken), outcome being 'completed', 'skipped', 'failed', 'waiting' (a
-- retry is due later), 'stale' or 'lost'.
local task_id, attempt, consumer, outcome = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
engine_keys(KEYS[4], KEYS[3], {ARGV[14], ARGV[15], ARGV[16]})
local channel, group, step_prefix, retention = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local step = redis.call('HMGET', KEYS[2], 'status', 'attempt_count', 'owner', 'max_attempts',
  'attempts', 'step_id', 'retry_base', 'flow_id', 'dependents')
local function done(outcome)
  if ARGV[13] == '1' then
    local taken = take_tasks(KEYS[4], KEYS[3], group, consumer, 1, ENGINE.prefixes, retention)
    if taken[1] then return {'next', outcome, taken[1]} end
  end
  return {'done', outcome}
end
if step[3] ~= consumer or step[2] ~= attempt then return {'done', 'lost'} end
if step[1] == 'cancelled' then
  -- Cancelled while it ran: nothing moves on, but the task is ours to drop.
  finish_task(KEYS[4], group, task_id)
  return done('stale')
end
-- Already ended by this very call, sent again after its reply was lost (a dropped connection):
-- the task may hold the next step by now, so it is left alone, to be taken over.
if step[1] ~= 'running' then return {'done', 'lost'} end
local t = now()
local flow_id, step_id = step[8], step[6]
local attempts = cjson.decode(step[5])
local last = attempts[#attempts]
last.finished_at = t
last.result = outcome
if ARGV[6] ~= '' then last.error = ARGV[6] end
local run = redis.call('HMGET', KEYS[1], 'name', 'running_steps', 'failed_steps',
  'completed_steps', 'skipped_steps')
local running = without(cjson.decode(run[2]), step_id)
if outcome ~= 'skipped' then  -- a false condition ran no script
  observe_step(KEYS[3], run[1], step_id, tonumber(t) - tonumber(last.started_at or t))
end
local function claim_next(next_step)
  return claim_step(KEYS[1], KEYS[3], task_id, consumer, channel, step_prefix, retention,
    next_step, false)
end
local function stop_holding()
  redis.call('HSET', KEYS[1], 'running_steps', json_list(running), 'updated_at', t)
  finish_task(KEYS[4], group, task_id)
end

if outcome == 'completed' or outcome == 'skipped' then
  if outcome == 'completed' then
    redis.call('HSET', KEYS[2], 'status', 'completed', 'output', ARGV[5], 'error', '',
      'logs', ARGV[7], 'finished_at', t, 'attempts', cjson.encode(attempts))
    -- Appended as text: decoding the list at every step would cost more the longer the run.
    local completed, entry = run[4], cjson.encode(step_id)
    if completed == '[]' or completed == '{}' then
      completed = '[' .. entry .. ']'
    else
      completed = string.sub(completed, 1, -2) .. ',' .. entry .. ']'
    end
    redis.call('HSET', KEYS[1], 'completed_steps', completed)
  else
    -- Its condition was false: the claim's attempt did not run the script, and is not kept.
    table.remove(attempts)
    redis.call('HSET', KEYS[2], 'status', 'skipped', 'attempt_count', tonumber(attempt) - 1,
      'error', '', 'logs', ARGV[7], 'finished_at', t, 'attempts', json_list(attempts))
    local skipped = cjson.decode(run[5] or '[]')
    skipped[#skipped + 1] = step_id
    redis.call('HSET', KEYS[1], 'skipped_steps', json_list(skipped))
  end
  emit(KEYS[3], channel, step_event(flow_id, step_id, outcome, attempt, t))
  redis.call('HINCRBY', KEYS[1], 'steps_left', -1)
  -- The steps after it whose every dependency has now ended are ready; while a step of the run
  -- has failed for good none starts (the run winds down to Failed).
  local ready = {}
  for _, name in ipairs(cjson.decode(step[9])) do
    if redis.call('HINCRBY', step_prefix .. name, 'waiting_for', -1) == 0 then
      ready[#ready + 1] = name
    end
  end
  if run[3] ~= '[]' then ready = {} end
  redis.call('HINCRBY', KEYS[1], 'active', #ready - 1)
  for i = 2, #ready do
    redis.call('HSET', step_prefix .. ready[i], 'task', enqueue(KEYS[4], flow_id, ready[i]))
  end
  if ready[1] then
    redis.call('HSET', step_prefix .. ready[1], 'task', task_id)
    redis.call('HSET', KEYS[1], 'running_steps', json_list(running), 'updated_at', t)
    emit(KEYS[3], channel, flow_event(flow_id, run[1], 'running', ready[1], t))
    return claim_next(ready[1])
  end
  stop_holding()
elseif tonumber(attempt) - tonumber(step[7]) < tonumber(step[4]) then
  local delay = tonumber(ARGV[12])
  if delay <= 0 then
    redis.call('HSET', KEYS[2], 'status', 'pending', 'error', ARGV[6], 'logs', ARGV[7],
      'attempts', cjson.encode(attempts))
    redis.call('HSET', KEYS[1], 'running_steps', json_list(running))
    emit(KEYS[3], channel, step_event(flow_id, step_id, 'pending', attempt, t, ARGV[6]))
    return claim_next(step_id)
  end
  -- The runner slot is not held while the step waits: the task is dropped, and the step waits
  -- in the delayed set (which outlives any runner) until it is due.
  local due = string.format('%.6f', tonumber(t) + delay)
  redis.call('HSET', KEYS[2], 'status', 'pending', 'error', ARGV[6], 'logs', ARGV[7],
    'attempts', cjson.encode(attempts), 'next_attempt_at', due, 'task', '', 'owner', '')
  emit(KEYS[3], channel, step_event(flow_id, step_id, 'pending', attempt, t, ARGV[6]))
  redis.call('ZADD', KEYS[5], due, KEYS[2])
  stop_holding()
  return done('waiting')
else
  redis.call('HSET', KEYS[2], 'status', 'failed', 'error', ARGV[6], 'logs', ARGV[7],
    'finished_at', t, 'attempts', cjson.encode(attempts))
  emit(KEYS[3], channel, step_event(flow_id, step_id, 'failed', attempt, t, ARGV[6]))
  local failed = cjson.decode(run[3])
  failed[#failed + 1] = step_id
  redis.call('HSET', KEYS[1], 'failed_steps', json_list(failed))
  redis.call('HINCRBY', KEYS[1], 'active', -1)
  stop_holding()
end
settle_run(KEYS[1], KEYS[3], channel, step_prefix, retention, step_id)
return done(outcome)
