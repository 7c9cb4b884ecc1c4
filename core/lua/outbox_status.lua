-- outbox_status.lua: a platform's delivery status for our outbound messages.
-- Statuses only move forward: pending < sent < delivered < read. "failed"
-- is reachable from pending and sent only, and is final; so a late "sent"
-- after "read", or a "delivered" after "failed", changes nothing. Each
-- update is applied once (de-duplicated by its key).
-- ARGV: [1] P, [2] channel, [3] dedup key, [4] provider id or '', [5] thread or '',
--       [6] watermark ms, [7] status, [8] error JSON or 'null', [9] now_ms,
--       [10] now_iso, [11] eid, [12] dedup TTL s
-- Either a provider id (one message) or a thread + watermark (Messenger:
-- every outbound message of the thread's session sent at or before it).
-- Returns {'ok', 'dup'}, {'ok', 'unknown'} (no such message yet: the status
-- is parked for an hour, since a platform's webhook may beat our send call's
-- answer), or {'ok', number of messages that changed} (og_script.h).
local P, ch, dk, pmid, thread = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local wm, st, err, now_iso, eid = tonumber(ARGV[6]), ARGV[7], ARGV[8], ARGV[10], ARGV[11]
local RANK = {pending = 0, sent = 1, delivered = 2, read = 3}

if not redis.call('SET', k(P, 'sdedup', ch, dk), '1', 'NX', 'EX', tonumber(ARGV[12])) then
  return {'ok', 'dup'}
end

local ALPHA = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
local n = 0
local function next_eid()
  local a, b = math.floor(n / 32) % 32 + 1, n % 32 + 1
  return eid:sub(1, #eid - 2) .. ALPHA:sub(a, a) .. ALPHA:sub(b, b)
end

-- 1 when the message changed.
local function apply(mid)
  local mk = k(P, 'msg', mid)
  local m = redis.call('HMGET', mk, 'st', 'sid', 'dir')
  if m[3] ~= 'out' or not m[1] then return 0 end
  local cur = RANK[m[1]]
  if not cur then return 0 end                     -- failed: final
  if st == 'failed' then
    if cur > 1 then return 0 end
    redis.call('HSET', mk, 'st', 'failed', 'err', err)
  else
    if RANK[st] <= cur then return 0 end
    redis.call('HSET', mk, 'st', st)
  end
  emit(P, next_eid(), 'message.' .. st, m[2], now_iso,
    '{"session":' .. (session_json(P, m[2]) or 'null') .. ',"message":' ..
    message_json(P, mid) .. '}')
  n = n + 1
  return 1
end

if pmid ~= '' then
  local mid = pmid_get(P, ch, pmid)
  if not mid then
    local pk = k(P, 'pstatus', ch, pmid)
    local prev = redis.call('HGET', pk, 'st')
    if not prev or st == 'failed' or (RANK[prev] and RANK[st] > RANK[prev]) then
      redis.call('HSET', pk, 'st', st, 'err', err)
      redis.call('EXPIRE', pk, 3600)
    end
    return {'ok', 'unknown'}
  end
  apply(mid)
  return {'ok', n}
end

-- Watermark: the newest 200 messages of the thread's session (ids order by
-- creation, not by send time, so there is no early stop); older ones were
-- covered by earlier watermarks.
local sid = thread_get(P, ch, thread)
if not sid then return {'ok', 'unknown'} end
local ids = msgs_call(P, sid, 'ZREVRANGE', 0, 199)
for _, mid in ipairs(ids) do
  local m = redis.call('HMGET', k(P, 'msg', mid), 'dir', 'sent_ms')
  if m[1] == 'out' and m[2] and tonumber(m[2]) <= wm then apply(mid) end
end
return {'ok', n}
