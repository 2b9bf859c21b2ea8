"""Which runs changed since the archive last looked, without it reading every event of every
run.

Every transition script also notes its run in its partition's sorted set
(`Partition.changed_runs`), scored by the time of the event it just emitted, atomically with
the transition; like the events stream, it holds at most 100,000 runs, so runs changed while
nothing archives are kept for a while, not forever. A follower takes the whole set, archives
those runs, then forgets exactly what it took: a run that changed meanwhile has a later score
and stays for the next take, so a follower that dies half way loses nothing.
"""

from __future__ import annotations

from collections import defaultdict

import redis.asyncio as redis

from flows.engine.keys import Keys
from flows.engine.lua_scripts import call_each

# Every run with its score, oldest first.
SCORED = """
return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
"""

# ARGV: flow_id, score, ...: forget each run still at the score it was taken at.
FORGET = """
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
"""


class ChangedRuns:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._scored = client.register_script(SCORED)
        self._forget = client.register_script(FORGET)

    async def take(self) -> dict[str, str]:
        """Every run changed and not yet forgotten, oldest change first: flow_id -> its score,
        as Redis wrote it (through Lua: the very string FORGET compares). One round trip."""
        calls = [(self._scored, {"keys": [part.changed_runs]}) for part in self.keys.partitions]
        answers = await call_each(self.client, calls)
        scored = [
            pair for answer in answers for pair in zip(answer[::2], answer[1::2], strict=True)
        ]
        if len(answers) > 1:
            scored.sort(key=lambda pair: float(pair[1]))
        return dict(scored)

    async def forget(self, taken: dict[str, str]) -> None:
        """Drop the taken runs that have not changed since. One round trip."""
        by_key: dict[str, list[str]] = defaultdict(list)
        for flow_id, score in taken.items():
            by_key[self.keys.partition_of(flow_id).changed_runs] += [flow_id, score]
        calls = [(self._forget, {"keys": [key], "args": pairs}) for key, pairs in by_key.items()]
        await call_each(self.client, calls)
