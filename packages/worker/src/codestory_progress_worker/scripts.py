"""The one copy of the publish scripts: the gateway's publishers and this SDK run these, and
docs/publishing.md and docs/protocol.md show them verbatim for workers in other languages.

Standalone: KEYS snapshot, counter; ARGV the update's JSON without seq, the story's channel, the
TTL; returns the seq assigned. The counter survives a legacy publisher's plain SET of the
snapshot, so seq never goes back; the snapshot's own seq covers a counter that expired or
predates the script.

The SDK runs each with a third key, the story's cancel key, and a reply that also tells whether it
exists (`SDK_PUBLISH_SCRIPT`, `SDK_CLUSTER_PUBLISH_SCRIPT`): still one round trip, and what the
script stores and publishes is unchanged. `HEARTBEAT_SCRIPT` is the block's liveness refresh.
"""

from __future__ import annotations

PUBLISH_SCRIPT = """
local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
if seq >= 9007199254740992 then seq = 0 end
local current = redis.call('GET', KEYS[1])
if current then
  local ok, held = pcall(cjson.decode, current)
  if ok and type(held) == 'table' and type(held['seq']) == 'number' and held['seq'] > seq
        and held['seq'] < 9007199254740992 then
    seq = held['seq']
  end
end
seq = seq + 1
local body = string.sub(ARGV[1], 1, -2) .. ',"seq":' .. string.format('%d', seq) .. '}'
redis.call('SET', KEYS[1], body, 'EX', tonumber(ARGV[3]))
redis.call('SET', KEYS[2], seq, 'EX', tonumber(ARGV[3]))
redis.call('PUBLISH', ARGV[2], body)
return seq
"""

# Cluster mode: the same script on the story's shard, publishing on its sharded channel, and
# returning {seq, the seq-stamped body} so the caller can SPUBLISH that body on the owner's channel.
CLUSTER_PUBLISH_SCRIPT = PUBLISH_SCRIPT.replace(
    "redis.call('PUBLISH', ARGV[2], body)\nreturn seq",
    "redis.call('SPUBLISH', ARGV[2], body)\nreturn {seq, body}",
)

# The SDK's variants: KEYS[3] the story's cancel key (same slot in cluster mode); the reply gains a
# last element, 1 if a cancel was requested, else 0: {seq, cancel} / {seq, body, cancel}.
SDK_PUBLISH_SCRIPT = PUBLISH_SCRIPT.replace(
    "\nreturn seq\n", "\nreturn {seq, redis.call('EXISTS', KEYS[3])}\n"
)
SDK_CLUSTER_PUBLISH_SCRIPT = CLUSTER_PUBLISH_SCRIPT.replace(
    "\nreturn {seq, body}\n", "\nreturn {seq, body, redis.call('EXISTS', KEYS[3])}\n"
)

# A block's heartbeat, one round trip: KEYS the liveness key, the cancel key; ARGV the refresh
# time (epoch milliseconds, the worker's clock), the TTL in milliseconds. Returns 1 if a cancel
# was requested, else 0.
HEARTBEAT_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return redis.call('EXISTS', KEYS[2])
"""
