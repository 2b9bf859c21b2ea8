-- Create a run: its flow hash, one hash per step, and a task for each step that runs first.
-- With an idempotency key, a run launched with the same key (and flow) within its window is
-- the answer instead, and nothing is created. A run over a full concurrency limit is created
-- Queued, without tasks (prelude.lua: release_slots starts it), or not at all when the flow
-- rejects such runs.
-- KEYS: flow, queue, events, runs, step keys in order
-- ARGV: flow_id, name, input_json, definition_json, meta_json, channel, retention, the
--       idempotency key's Redis key ('' for none), its window in seconds, the limits the run
--       counts against (JSON list of {slots key, at most}; '' for none), 'queue' or 'reject',
--       then per step: step_id, max_attempts, its number of dependencies, its dependents (JSON
--       list), the outputs it reads (JSON list of step ids, or '*' for all)
-- Returns {flow_id of the run, what happened: 'created', 'queued', 'existing' (an earlier
-- launch with the key made it), or 'rejected' (then the index of the full limit, not an id)}.
local flow_id, name, channel, retention = ARGV[1], ARGV[2], ARGV[6], tonumber(ARGV[7])
local idempotency_key = ARGV[8]
if idempotency_key ~= '' then
  local launched = redis.call('GET', idempotency_key)
  if launched then return {launched, 'existing'} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- Ids are drawn at random for each launch: this is the launch itself, sent again after its
  -- reply was lost with the connection. It answers as the first call did.
  if redis.call('HGET', KEYS[1], 'status') == 'queued' then return {flow_id, 'queued'} end
  return {flow_id, 'created'}
end
local limits, full = {}, nil
if ARGV[10] ~= '' then
  limits = cjson.decode(ARGV[10])
  full = full_limit(limits)
  if full and ARGV[11] == 'reject' then return {tostring(full), 'rejected'} end
end
if idempotency_key ~= '' then redis.call('SET', idempotency_key, flow_id, 'EX', ARGV[9]) end
local t = now()
local first_step, roots = nil, 0
for i = 5, #KEYS do
  local arg = 12 + (i - 5) * 5
  local step_id, waiting = ARGV[arg], tonumber(ARGV[arg + 2])
  local task = ''
  if waiting == 0 then
    if not full then task = enqueue(KEYS[2], flow_id, step_id) end
    roots = roots + 1
    first_step = first_step or step_id
  end
  redis.call('HSET', KEYS[i], 'flow_id', flow_id, 'step_id', step_id, 'status', 'pending',
    'attempt_count', 0, 'max_attempts', ARGV[arg + 1], 'retry_base', 0, 'output', '',
    'error', '', 'logs', '[]', 'attempts', '[]', 'next_attempt_at', '', 'created_at', t,
    'started_at', '', 'finished_at', '', 'task', task, 'owner', '', 'waiting_for', waiting,
    'dependents', ARGV[arg + 3], 'reads', ARGV[arg + 4])
end
local status = 'created'
if full then status = 'queued' end
redis.call('HSET', KEYS[1], 'flow_id', flow_id, 'name', name, 'status', status,
  'current_step', first_step, 'completed_steps', '[]', 'skipped_steps', '[]',
  'running_steps', '[]', 'failed_steps', '[]', 'steps_left', #KEYS - 4, 'active', roots,
  'input', ARGV[3], 'error', '', 'definition', ARGV[4], 'meta', ARGV[5], 'patched', 0,
  'created_at', t, 'started_at', '', 'finished_at', '', 'updated_at', t, 'limits', ARGV[10],
  'queued_on', '')
if full then
  wait_for_slot(KEYS[1], flow_id, limits[full])
elseif ARGV[10] ~= '' then
  take_slots(limits, flow_id, t)
end
redis.call('ZADD', KEYS[4], t, flow_id)
if retention > 0 then
  -- The index of runs forgets them when their state expires.
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. (tonumber(t) - retention))
end
emit(KEYS[3], channel, flow_event(flow_id, name, status, first_step, t))
tally(KEYS[3], 'started|' .. name)
return {flow_id, status}
