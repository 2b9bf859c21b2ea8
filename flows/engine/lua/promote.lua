-- Queue the retries whose wait is over: each waiting step (see finish.lua) gets a new task, for
-- any runner. Steps of runs that ended meanwhile (cancelled) just leave the delayed set.
-- KEYS: delayed, queue
-- ARGV: count (at most this many at a time), flow key prefix, step key prefix
-- Returns the seconds until the next retry is due (as text; '0' when more are due now), or
-- '-1' when none waits.
local t = now()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t, 'LIMIT', 0, ARGV[1])
for _, member in ipairs(due) do
  redis.call('ZREM', KEYS[1], member)
  local step_key = member
  if string.sub(member, 1, #ARGV[3]) ~= ARGV[3] then
    -- Queued before flows branched, by its run's id: the run's current step waits.
    local current = redis.call('HGET', ARGV[2] .. member, 'current_step') or ''
    step_key = ARGV[3] .. member .. ':' .. current
  end
  local step = redis.call('HMGET', step_key, 'status', 'task', 'flow_id', 'step_id')
  if step[1] == 'pending' and step[2] == ''
      and redis.call('HGET', ARGV[2] .. step[3], 'status') == 'running' then
    redis.call('HSET', step_key, 'task', enqueue(KEYS[2], step[3], step[4]))
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 then return '-1' end
return string.format('%.6f', math.max(0, tonumber(first[2]) - tonumber(t)))
