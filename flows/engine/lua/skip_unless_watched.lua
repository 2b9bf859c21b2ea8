-- Skip the events nobody would be shown: unless a run's page is open somewhere, move the group
-- past every event so far, so its reader reads none of them. A page that opens later misses
-- nothing: it joins the watchers before it reads the run's state, and this check and the skip
-- are one step.
-- KEYS: events, run page watchers
-- ARGV: group, the oldest join time still counted
-- Returns 1 if a run page is open (nothing skipped), else 0.
if redis.call('ZCOUNT', KEYS[2], ARGV[2], '+inf') > 0 then return 1 end
if redis.call('EXISTS', KEYS[1]) == 1 then
  -- pcall: the group may not exist yet (a Redis flushed meanwhile); the next read recreates it.
  redis.pcall('XGROUP', 'SETID', KEYS[1], ARGV[1], '$')
end
return 0
