-- Shared by every engine script (prepended when the script is loaded).

-- Redis server time, as "seconds.microseconds", so all runners agree on the clock.
local function now()
  local t = redis.call('TIME')
  return t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
end

-- The counters /metrics reads (metrics.py), in one hash for the installation: the events key +
-- ':counters' (Keys.counters). A field is a kind, then its labels, the flow's name last (or its
-- length in bytes, then the name and the step's), so a name may hold any character.
local function tally(events_key, field, by)
  redis.call('HINCRBY', events_key .. ':counters', field, by or 1)
end

-- Record a transition in the capped events stream, tell the run's listeners at once on its
-- sharded channel (those waiting for its end alone on the channel + ':ended',
-- Partition.flow_end_channel: a sharded channel is served by the node of its slot, which on a
-- cluster is the run's, where plain PUBLISH would go to every node), and note the run
-- as changed (by its latest event's time) for the archive: changes.py. A run's end is counted.
local ENDS = {completed = true, failed = true, cancelled = true}
local function emit(events_key, channel, event)
  local payload = cjson.encode(event)
  redis.call('XADD', events_key, 'MAXLEN', '~', 100000, '*', 'event', payload)
  redis.call('SPUBLISH', channel, payload)
  if event.kind == 'flow' and ENDS[event.status] then
    redis.call('SPUBLISH', channel .. ':ended', payload)
    tally(events_key, 'ended|' .. event.status .. '|' .. (event.name or ''))
  end
  local changed_key = events_key .. ':changed'  -- Keys.changed_runs
  if redis.call('ZADD', changed_key, event.at, event.flow_id) == 1 then
    -- One more run waits for the archive: as many as the events stream holds events, at most.
    redis.call('ZREMRANGEBYRANK', changed_key, 0, -100001)
  end
end

-- Upper bounds (seconds) of the buckets of the step duration histogram; metrics.py's
-- STEP_SECONDS_BUCKETS must list the same (tests/engine/test_metrics.py checks).
local STEP_SECONDS_BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
  300, 900, 3600}

-- An attempt of a step ran its script for `seconds`: one more in its bucket (counted alone, not
-- cumulatively: metrics.py adds them up), and the total time in microseconds.
local function observe_step(events_key, flow_name, step_id, seconds)
  flow_name, seconds = flow_name or '', math.max(seconds, 0)
  local bucket = '+Inf'
  for _, bound in ipairs(STEP_SECONDS_BUCKETS) do
    if seconds <= bound then bucket = tostring(bound); break end
  end
  local labels = #flow_name .. '|' .. flow_name .. step_id
  tally(events_key, 'step|' .. bucket .. '|' .. labels)
  tally(events_key, 'step_us|' .. labels, math.floor(seconds * 1000000 + 0.5))
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

-- A list as JSON: cjson would write an empty one as {}.
local function json_list(items)
  if #items == 0 then return '[]' end
  return cjson.encode(items)
end

local function without(items, item)
  local kept = {}
  for _, each in ipairs(items) do
    if each ~= item then kept[#kept + 1] = each end
  end
  return kept
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

-- A task runs one step of a run; the step hash's `task` names the task that may run it. A
-- runner that finishes a step may go on with one of the steps it made ready under the same
-- task (finish.lua): then the task's own step_id is no longer its step.
local function enqueue(queue_key, flow_id, step_id)
  return redis.call('XADD', queue_key, '*', 'flow_id', flow_id, 'step_id', step_id)
end

-- Give a run created before flows could branch (one straight line, one task) the fields the
-- graph's transitions keep: each step's dependents and unmet dependencies, and the run's
-- counts of steps left and of steps under way.
local function upgrade_run(flow_key, step_prefix)
  local run = redis.call('HMGET', flow_key, 'definition', 'completed_steps', 'current_step',
    'status')
  local steps = cjson.decode(run[1]).steps
  local completed = {}
  for _, name in ipairs(cjson.decode(run[2])) do completed[name] = true end
  local left, running = 0, {}
  for i, step in ipairs(steps) do
    local key = step_prefix .. step.name
    local dependents = {}
    if steps[i + 1] then dependents[1] = steps[i + 1].name end
    local waiting = 1
    if i == 1 or completed[steps[i - 1].name] then waiting = 0 end
    redis.call('HSET', key, 'dependents', json_list(dependents), 'waiting_for', waiting)
    if not completed[step.name] then left = left + 1 end
    if redis.call('HGET', key, 'status') == 'running' then running[#running + 1] = step.name end
  end
  local failed = {}
  if run[4] == 'failed' then failed[1] = run[3] end
  redis.call('HSET', flow_key, 'steps_left', left, 'active', #failed == 0 and 1 or 0,
    'running_steps', json_list(running), 'failed_steps', json_list(failed),
    'skipped_steps', '[]')
end

-- The keys of the whole installation, for transitions that reach beyond their own run (a run's
-- end starts the runs queued behind it): the queue, the events stream and what to prepend to a
-- flow id to reach its flow hash, its step hashes (then ':' and the step id) and its channel
-- (Keys.script_key_prefixes). Set by every script that may end or start a run.
local ENGINE = {}
local function engine_keys(queue_key, events_key, prefixes)
  ENGINE.queue, ENGINE.events, ENGINE.prefixes = queue_key, events_key, prefixes
end

-- Concurrency limits (concurrency.py). A run's `limits` field lists {slots key, at most} for
-- each limit it counts against; the slots key + ':running' holds the runs with a slot, + ':waiting'
-- the runs queued for one, scored by launch time. Returns the index of the first full limit.
local function full_limit(limits)
  for i, limit in ipairs(limits) do
    if redis.call('ZCARD', limit[1] .. ':running') >= tonumber(limit[2]) then return i end
  end
  return nil
end

local function take_slots(limits, flow_id, t)
  for _, limit in ipairs(limits) do redis.call('ZADD', limit[1] .. ':running', t, flow_id) end
end

-- Wait for a slot of `limit` in launch order (the run's creation time).
local function wait_for_slot(flow_key, flow_id, limit)
  redis.call('ZADD', limit[1] .. ':waiting', redis.call('HGET', flow_key, 'created_at'), flow_id)
  redis.call('HSET', flow_key, 'queued_on', limit[1])
end

-- A queued run got its slots: queue its steps that are ready (a new run's first steps; a
-- retried run's step, and, once no failed step is left, those that became ready as it wound
-- down: steps never tried yet while a failed step remains would only be dropped again).
local function start_queued_run(flow_key, flow_id, t)
  local run = redis.call('HMGET', flow_key, 'name', 'definition', 'failed_steps', 'started_at')
  local step_prefix = ENGINE.prefixes[2] .. flow_id .. ':'
  local started, first = 0, nil
  for _, step in ipairs(cjson.decode(run[2]).steps) do
    local key = step_prefix .. step.name
    local state = redis.call('HMGET', key, 'status', 'waiting_for', 'task', 'attempt_count')
    if state[1] == 'pending' and tonumber(state[2]) == 0 and state[3] == ''
        and (run[3] == '[]' or tonumber(state[4]) > 0) then
      redis.call('HSET', key, 'task', enqueue(ENGINE.queue, flow_id, step.name))
      started = started + 1
      first = first or step.name
    end
  end
  local status = 'running'
  if run[4] == '' then status = 'created' end
  redis.call('HSET', flow_key, 'status', status, 'active', started, 'current_step', first,
    'queued_on', '', 'updated_at', t)
  emit(ENGINE.events, ENGINE.prefixes[3] .. flow_id,
    flow_event(flow_id, run[1], status, first, t))
end

-- Start the runs waiting for `limit` while it has room, in launch order. A run that finds
-- another of its limits full moves to wait there, keeping its place by launch time.
local function admit_waiting(limit, t)
  local running, waiting = limit[1] .. ':running', limit[1] .. ':waiting'
  while redis.call('ZCARD', running) < tonumber(limit[2]) do
    local head = redis.call('ZRANGE', waiting, 0, 0)[1]
    if not head then return end
    redis.call('ZREM', waiting, head)
    local flow_key = ENGINE.prefixes[1] .. head
    local run = redis.call('HMGET', flow_key, 'status', 'limits')
    if run[1] == 'queued' then
      local limits = cjson.decode(run[2])
      local full = full_limit(limits)
      if full then
        wait_for_slot(flow_key, head, limits[full])
      else
        take_slots(limits, head, t)
        start_queued_run(flow_key, head, t)
      end
    end
  end
end

-- A run has ended (or was cancelled while queued): give back its slots and start the runs
-- waiting for them.
local function release_slots(flow_key, flow_id, t)
  local run = redis.call('HMGET', flow_key, 'limits', 'queued_on')
  if not run[1] or run[1] == '' then return end
  if run[2] and run[2] ~= '' then
    redis.call('ZREM', run[2] .. ':waiting', flow_id)
    redis.call('HSET', flow_key, 'queued_on', '')
  end
  local limits = cjson.decode(run[1])
  for _, limit in ipairs(limits) do redis.call('ZREM', limit[1] .. ':running', flow_id) end
  for _, limit in ipairs(limits) do admit_waiting(limit, t) end
end

-- After a step of a run stopped being under way: end the run when nothing is left to do
-- (Completed) or nothing more can happen (Failed, naming its first failed step); else keep
-- `current_step` on a running step. Returns the run's final status, or nil while it goes on.
local function settle_run(flow_key, events_key, channel, step_prefix, retention, last_step)
  local run = redis.call('HMGET', flow_key, 'flow_id', 'name', 'steps_left', 'active',
    'failed_steps', 'running_steps', 'current_step')
  local t = now()
  local status, current, error = nil, last_step, ''
  if tonumber(run[3]) <= 0 then
    status = 'completed'
  elseif tonumber(run[4]) <= 0 then
    status = 'failed'
    current = cjson.decode(run[5])[1] or last_step
    error = 'step ' .. current .. ' failed: ' ..
      (redis.call('HGET', step_prefix .. current, 'error') or '')
  else
    local running = cjson.decode(run[6])
    if run[7] == last_step and running[1] then
      redis.call('HSET', flow_key, 'current_step', running[1])
    end
    return nil
  end
  redis.call('HSET', flow_key, 'status', status, 'current_step', current, 'error', error,
    'running_steps', '[]', 'finished_at', t, 'updated_at', t)
  emit(events_key, channel, flow_event(run[1], run[2], status, current, t, error))
  expire_run(flow_key, step_prefix, redis.call('HGET', flow_key, 'definition'), retention)
  release_slots(flow_key, run[1], t)
  return status
end

-- A step keeps its last attempts in full; attempt_count keeps counting them all.
local KEPT_ATTEMPTS = 50

-- The outputs a step's script and condition read (its `reads`: a JSON list of step names, or
-- '*' when they may read any: then every completed step's), as a JSON object's text.
local function outputs_read(flow_key, step_prefix, reads)
  local outputs = {}
  local function add(name, output)
    outputs[#outputs + 1] = cjson.encode(name) .. ':' .. (output or 'null')
  end
  if reads == '*' or not reads then
    for _, name in ipairs(cjson.decode(redis.call('HGET', flow_key, 'completed_steps'))) do
      add(name, redis.call('HGET', step_prefix .. name, 'output'))
    end
  else
    for _, name in ipairs(cjson.decode(reads)) do
      local step = redis.call('HMGET', step_prefix .. name, 'status', 'output')
      if step[1] == 'completed' then add(name, step[2]) end
    end
  end
  return '{' .. table.concat(outputs, ',') .. '}'
end

-- Claim a step of a run for one attempt by `consumer`, holding task `task_id`: the task's step
-- (`step_id`; '' for a task queued before flows branched: the run's current step), or, when the
-- task has moved on to another step (see enqueue), the running step it holds now.
-- Only the task recorded on the step may run it, and only while the run is live. A step found
-- 'running' was held by a runner whose lease lapsed (it died): that attempt is recorded as
-- lost and this claim takes over. While a step of the run has failed for good, no step starts
-- that has not run before: the run winds down to Failed (settle_run).
-- The claim carries the outputs the step reads, so a step's cost does not grow with the steps
-- before it, and with `full` (a task read anew) the run's input and definition, which the
-- runner keeps while it goes on with the run. `retention` is the run's, should this end it.
-- Returns {'run', step_id, attempt, retry_base, outputs_json[, input_json, definition_json]}
-- or {'skip', reason}.
local function claim_step(flow_key, events_key, task_id, consumer, channel, step_prefix,
                          retention, step_id, full)
  local fields = {'status', 'flow_id', 'name', 'current_step', 'running_steps', 'failed_steps',
    'steps_left'}
  local flow = redis.call('HMGET', flow_key, unpack(fields))
  if flow[1] ~= 'created' and flow[1] ~= 'running' then
    return {'skip', 'run is ' .. tostring(flow[1])}
  end
  if not flow[7] then
    upgrade_run(flow_key, step_prefix)
    flow = redis.call('HMGET', flow_key, unpack(fields))
  end
  if step_id == '' then step_id = flow[4] end
  local running = cjson.decode(flow[5])
  local step_fields = {'status', 'task', 'attempt_count', 'attempts', 'retry_base', 'started_at',
    'reads'}
  local step = redis.call('HMGET', step_prefix .. step_id, unpack(step_fields))
  if step[2] ~= task_id or (step[1] ~= 'pending' and step[1] ~= 'running') then
    step_id = nil
    for _, name in ipairs(running) do
      if redis.call('HGET', step_prefix .. name, 'task') == task_id then step_id = name end
    end
    if not step_id then return {'skip', 'task is stale'} end
    step = redis.call('HMGET', step_prefix .. step_id, unpack(step_fields))
  end
  local step_key = step_prefix .. step_id
  local t = now()
  local attempts = cjson.decode(step[4])
  if step[1] == 'running' then
    local last = attempts[#attempts]
    if last then
      last.finished_at = t
      last.result = 'lost'
      last.error = 'runner ' .. tostring(last.runner) .. ' stopped renewing its lease'
    end
    tally(events_key, 'takeover|' .. (flow[3] or ''))
  elseif step[1] ~= 'pending' then
    return {'skip', 'step is ' .. tostring(step[1])}
  elseif flow[6] ~= '[]' and tonumber(step[3]) == 0 then
    redis.call('HSET', step_key, 'task', '')
    redis.call('HINCRBY', flow_key, 'active', -1)
    settle_run(flow_key, events_key, channel, step_prefix, retention, step_id)
    return {'skip', 'a step of the run failed'}
  else
    running[#running + 1] = step_id
  end
  local attempt = tonumber(step[3]) + 1
  attempts[#attempts + 1] = {attempt = attempt, runner = consumer, started_at = t}
  while #attempts > KEPT_ATTEMPTS do table.remove(attempts, 1) end
  local started_at = step[6]
  if started_at == '' then started_at = t end
  redis.call('HSET', step_key, 'status', 'running', 'attempt_count', attempt, 'owner', consumer,
    'started_at', started_at, 'finished_at', '', 'next_attempt_at', '',
    'attempts', cjson.encode(attempts))
  redis.call('HSET', flow_key, 'running_steps', json_list(running), 'current_step', step_id)
  emit(events_key, channel, step_event(flow[2], step_id, 'running', attempt, t))
  if flow[1] == 'created' then
    redis.call('HSET', flow_key, 'status', 'running', 'started_at', t, 'updated_at', t)
    emit(events_key, channel, flow_event(flow[2], flow[3], 'running', step_id, t))
  end
  local claim = {'run', step_id, attempt, tonumber(step[5]),
    outputs_read(flow_key, step_prefix, step[7])}
  if full then
    local run = redis.call('HMGET', flow_key, 'input', 'definition')
    claim[6], claim[7] = run[1], run[2]
  end
  return claim
end

-- Read up to `count` new tasks for `consumer` and claim each one's step; tasks that are not to
-- run (stale, or their run has ended) are dropped. `prefixes`: what to prepend to a flow id to
-- reach its flow hash, its step hashes (then ':' and the step id) and its channel.
-- Returns a list of {task_id, flow_id, claim} (see claim_step).
local function take_tasks(queue_key, events_key, group, consumer, count, prefixes, retention)
  engine_keys(queue_key, events_key, prefixes)
  local answer = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count,
    'STREAMS', queue_key, '>')
  local taken = {}
  if not answer then return taken end
  for _, message in ipairs(answer[1][2]) do
    local task_id, fields = message[1], message[2]
    local task = {}
    for i = 1, #fields, 2 do task[fields[i]] = fields[i + 1] end
    local flow_id = task.flow_id
    local claim = claim_step(prefixes[1] .. flow_id, events_key, task_id, consumer,
      prefixes[3] .. flow_id, prefixes[2] .. flow_id .. ':', retention, task.step_id or '', true)
    if claim[1] ~= 'run' then finish_task(queue_key, group, task_id) end
    taken[#taken + 1] = {task_id, flow_id, claim}
  end
  return taken
end
