-- Send a failed step back to Pending and resume its run from there. Completed and skipped steps
-- keep their outputs; attempt_count keeps counting, with a fresh retry budget. Once no failed
-- step is left, the steps that became ready while the run wound down are queued too. Idempotent:
-- a step that is not failed (already pending again after a double click, say) is left alone.
-- A run under a concurrency limit takes its slots again, or, when one is full, waits as Queued
-- (its place in line by launch time) or is refused, as the flow says.
-- KEYS: flow, step, events, queue
-- ARGV: channel, replacement definition_json ('' to keep), replacement max_attempts ('' to keep),
--       step key prefix, with a replacement the outputs each step reads (JSON object of step id
--       -> JSON list or '*')
local channel, step_prefix = ARGV[1], ARGV[4]
local fields = {'status', 'flow_id', 'name', 'definition', 'failed_steps', 'steps_left'}
local flow = redis.call('HMGET', KEYS[1], unpack(fields))
if not flow[1] then return {'missing', 'no such run'} end
local step = redis.call('HMGET', KEYS[2], 'status', 'step_id', 'attempt_count')
if not step[1] then return {'missing', 'no such step in this run'} end
if step[1] ~= 'failed' or flow[1] ~= 'failed' then
  return {'noop', 'step ' .. step[2] .. ' is ' .. step[1] .. ' and the run is ' .. flow[1]}
end
if not flow[6] then
  upgrade_run(KEYS[1], step_prefix)
  flow = redis.call('HMGET', KEYS[1], unpack(fields))
end
local limits_json = redis.call('HGET', KEYS[1], 'limits') or ''
local limits, full = {}, nil
if limits_json ~= '' then
  limits = cjson.decode(limits_json)
  full = full_limit(limits)
  local definition = cjson.decode(flow[4])
  if full and definition.when_limited == 'reject' then
    local limit = definition.concurrency_limits[full]
    local what = 'at most ' .. limit.runs .. ' at once'
    if limit.per then what = what .. ' per ' .. limit.per end
    return {'noop', 'the flow allows ' .. what .. ', all taken: retry once one of its runs ends'}
  end
end
local t = now()
persist_run(KEYS[1], step_prefix, flow[4])
local task = ''
if not full then task = enqueue(KEYS[4], flow[2], step[2]) end
redis.call('HSET', KEYS[2], 'status', 'pending', 'error', '', 'finished_at', '', 'task', task,
  'owner', '', 'retry_base', step[3])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'max_attempts', ARGV[3]) end
local failed = without(cjson.decode(flow[5]), step[2])
local active = 1
local status = 'running'
if full then
  -- Its steps are queued when it gets its slots (prelude.lua: start_queued_run).
  status = 'queued'
  wait_for_slot(KEYS[1], flow[2], limits[full])
elseif limits_json ~= '' then
  take_slots(limits, flow[2], t)
end
if #failed == 0 and not full then
  for _, each in ipairs(cjson.decode(flow[4]).steps) do
    local key = step_prefix .. each.name
    local other = redis.call('HMGET', key, 'status', 'waiting_for', 'task')
    if other[1] == 'pending' and tonumber(other[2]) == 0 and other[3] == '' then
      redis.call('HSET', key, 'task', enqueue(KEYS[4], flow[2], each.name))
      active = active + 1
    end
  end
end
redis.call('HSET', KEYS[1], 'status', status, 'current_step', step[2], 'error', '',
  'failed_steps', json_list(failed), 'active', active, 'finished_at', '', 'updated_at', t)
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'definition', ARGV[2])
  redis.call('HINCRBY', KEYS[1], 'patched', 1)
  for name, reads in pairs(cjson.decode(ARGV[5])) do
    redis.call('HSET', step_prefix .. name, 'reads', reads)
  end
end
emit(KEYS[3], channel, step_event(flow[2], step[2], 'pending', step[3], t))
emit(KEYS[3], channel, flow_event(flow[2], flow[3], status, step[2], t))
return {'ok', task}
