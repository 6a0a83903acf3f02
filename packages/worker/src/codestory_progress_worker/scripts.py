"""The one copy of the publish scripts: the gateway's publishers and this SDK run these, and
docs/publishing.md and docs/protocol.md show them verbatim for workers in other languages.

Standalone: KEYS snapshot, counter; ARGV the update's JSON without seq, the story's channel, the
TTL; returns the seq assigned. The counter survives a legacy publisher's plain SET of the
snapshot, so seq never goes back; the snapshot's own seq covers a counter that expired or
predates the script.
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
