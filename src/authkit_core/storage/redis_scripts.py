"""The Lua scripts of :class:`~authkit_core.storage.redis.RedisSessionStore`.

Each touches the keys of one session only (``{P:H}:s``, ``{P:H}:l``: one Cluster slot), runs atomically, and uses
only commands and script features of Redis 6 and 7 and Valkey (no Redis 7 function flags). They are registered
with redis-py's ``register_script`` (EVALSHA, loaded again after a restart or a failover).
"""

from __future__ import annotations

__all__ = ["ACQUIRE", "CREATE", "DELETE", "RELEASE", "UPDATE"]

#: KEYS: session, lease. ARGV: owner, lease ttl (ms), the version read ("" = any).
ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'v') ~= ARGV[3] then return 0 end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 1
"""

#: KEYS: session, lease. ARGV: payload, user index key, session ttl (ms). Only a session that is still there is
#: saved (never re-created after a sign-out, a revocation or its expiry); the lease goes with the save.
UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local version = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'u', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('DEL', KEYS[2])
return version
"""

#: KEYS: session. ARGV: payload, user index key, session ttl (ms). A fresh handle: the key cannot exist.
CREATE = """
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', 1, 'u', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

#: KEYS: lease. ARGV: owner. Only the holder releases.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: KEYS: session, lease. Deletes both; returns the user index key (false when the session was gone).
DELETE = """
local index = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1], KEYS[2])
return index
"""
