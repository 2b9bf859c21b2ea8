-- A runner's heartbeat: its details, stamped with Redis' clock (prelude's now()), so that
-- runners on machines whose clocks disagree are all judged alive or gone by one clock. One
-- small write per beat; the runner's first beat keeps started_at for the ones after, and
-- forgets runners silent for longer than the given age (gone long ago: crashed, never back).
-- KEYS: runners hash
-- ARGV: runner name, details (a JSON object), forget runners silent longer than this many
--       seconds ('' on every beat but the first: reading the whole hash is for start-up)
local t = now()
local beat = cjson.decode(ARGV[2])
local previous = redis.call('HGET', KEYS[1], ARGV[1])
beat.started_at = previous and cjson.decode(previous).started_at or t
beat.beat_at = t
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(beat))
if ARGV[3] ~= '' then
  local oldest = tonumber(t) - tonumber(ARGV[3])
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if tonumber(cjson.decode(all[i + 1]).beat_at) < oldest then
      redis.call('HDEL', KEYS[1], all[i])
    end
  end
end
return t
