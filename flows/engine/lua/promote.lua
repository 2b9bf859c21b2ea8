-- Queue the retries whose wait is over: each waiting run (see finish.lua) gets a new task, for
-- any runner. Runs that ended meanwhile (cancelled) just leave the delayed set.
-- KEYS: delayed, queue
-- ARGV: count (at most this many at a time), flow key prefix, step key prefix
-- Returns the seconds until the next retry is due (as text; '0' when more are due now), or
-- '-1' when none waits.
local t = now()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t, 'LIMIT', 0, ARGV[1])
for _, flow_id in ipairs(due) do
  redis.call('ZREM', KEYS[1], flow_id)
  local flow = redis.call('HMGET', ARGV[2] .. flow_id, 'status', 'current_step')
  if flow[1] == 'running' then
    local step_key = ARGV[3] .. flow_id .. ':' .. flow[2]
    local step = redis.call('HMGET', step_key, 'status', 'task')
    if step[1] == 'pending' and step[2] == '' then
      redis.call('HSET', step_key, 'task', enqueue(KEYS[2], flow_id))
    end
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 then return '-1' end
return string.format('%.6f', math.max(0, tonumber(first[2]) - tonumber(t)))
