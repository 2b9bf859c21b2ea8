-- Hand a running attempt back when its runner stops gracefully before the script ended: the
-- attempt is not counted and the step is queued again at once for another runner.
-- KEYS: step, queue, events, flow
-- ARGV: task_id, attempt, consumer, group, channel
local step = redis.call('HMGET', KEYS[1], 'status', 'attempt_count', 'owner', 'attempts',
  'step_id', 'flow_id')
if step[1] ~= 'running' or step[3] ~= ARGV[3] or step[2] ~= ARGV[2] then return 'lost' end
local attempts = cjson.decode(step[4])
table.remove(attempts)
local attempt = tonumber(step[2]) - 1
local task = enqueue(KEYS[2], step[6], step[5])
redis.call('HSET', KEYS[1], 'status', 'pending', 'attempt_count', attempt, 'owner', '',
  'task', task, 'attempts', json_list(attempts))
local running = cjson.decode(redis.call('HGET', KEYS[4], 'running_steps') or '[]')
redis.call('HSET', KEYS[4], 'running_steps', json_list(without(running, step[5])))
finish_task(KEYS[2], ARGV[4], ARGV[1])
emit(KEYS[3], ARGV[5], step_event(step[6], step[5], 'pending', attempt, now()))
return 'released'
