-- outbox.lua: the send queue's state changes, one atomic step each.
-- An outbound message is a hash P:msg:<id> (j, st, err, sid, dir "out", ch,
-- att = attempts so far, sent_ms = when the platform took it) referenced by
-- an entry {m = <id>} of the stream P:outbox, read by the consumer group
-- "senders". An entry is acknowledged (XACK) in the same script that records
-- the outcome of its send, so a crash between reading and recording leaves
-- it pending and XAUTOCLAIM hands it to another sender.
-- ARGV[1] = P, ARGV[2] = op:
--   "load"  [3] mid, [4] now_ms, [5] busy_ms ('0': none)
--           -> err not_found when the message is gone or no longer pending,
--              err conflict when busy_ms > 0 and an attempt started less than
--              busy_ms ago (a claimed entry another sender still works on), else
--              {'ok', ch, thread, contact_ext, j, reply_token, reply_token_ms,
--               last_customer_ms, attempts}; counts the attempt first
--   "sent"  [3] mid, [4] entry, [5] provider id, [6] now_ms, [7] now_iso, [8] eid
--           (sent, retry, fail, ack, spend -> {'ok', 'done' | 'stale'})
--   "retry" [3] mid, [4] entry, [5] due_ms, [6] error JSON
--   "fail"  [3] mid, [4] entry, [5] error JSON, [6] now_iso, [7] eid
--   "ack"   [3] entry
--   "spend" [3] mid, [4] reply token: the connector used the session's single-use
--           token up; forget it unless a newer message brought another one
--   "rate"  [3] channel, [4] interval_ms, [5] now_ms, [6] pause_until_ms or ''
--           -> {'ok', ms to wait} (0: a send slot was taken)
--   "pump"  [3] now_ms, [4] limit -> {'ok', due retries moved to the stream}
--   "windows" [3] now_ms, [4] limit, [5] now_iso, [6] eid -> {'ok', windows closed}
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]
local OUTBOX, GROUP = k(P, 'outbox'), 'senders'

-- The i-th event id of one script run: the base id with its last two
-- characters replaced (ids stay 26 characters of the same alphabet).
local ALPHA = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
local function eid_n(base, i)
  local a, b = math.floor(i / 32) % 32 + 1, i % 32 + 1
  return base:sub(1, #base - 2) .. ALPHA:sub(a, a) .. ALPHA:sub(b, b)
end

local function msg_event(etype, mid, sid, now_iso, eid)
  local sj = session_json(P, sid) or 'null'
  emit(P, eid, etype, sid, now_iso,
    '{"session":' .. sj .. ',"message":' .. (message_json(P, mid) or 'null') .. '}')
end

if op == 'load' then
  local mk = k(P, 'msg', ARGV[3])
  local m = redis.call('HMGET', mk, 'st', 'sid', 'ch', 'j')
  if m[1] ~= 'pending' then return {'err', 'not_found', 'no longer pending'} end
  local busy = tonumber(ARGV[5])
  if busy > 0 then
    local t = tonumber(redis.call('HGET', mk, 'try_ms') or '')
    if t and tonumber(ARGV[4]) - t < busy then return {'err', 'conflict', 'busy'} end
  end
  local s = redis.call('HMGET', k(P, 'ses', m[2]), 'thread_id', 'contact_id', 'reply_token',
    'reply_token_ms', 'last_customer_ms')
  local ext = redis.call('HGET', k(P, 'con', s[2] or ''), 'external_id') or ''
  local att = redis.call('HINCRBY', mk, 'att', 1)
  redis.call('HSET', mk, 'try_ms', ARGV[4])
  return {'ok', m[3] or '', s[1] or '', ext, m[4] or '', s[3] or '', s[4] or '', s[5] or '',
    tostring(att)}
elseif op == 'sent' then
  local mid, entry, pmid = ARGV[3], ARGV[4], ARGV[5]
  local mk = k(P, 'msg', mid)
  local m = redis.call('HMGET', mk, 'st', 'sid', 'ch', 'j')
  redis.call('XACK', OUTBOX, GROUP, entry)
  if m[1] ~= 'pending' then return {'ok', 'stale'} end
  local j = m[4]
  local at = string.find(j, '"provider_message_id":null', 1, true)
  if at and pmid ~= '' then
    j = j:sub(1, at - 1) .. '"provider_message_id":' .. cjson.encode(pmid) ..
      j:sub(at + #'"provider_message_id":null')
  end
  redis.call('HSET', mk, 'st', 'sent', 'j', j, 'sent_ms', ARGV[6], 'pmid', pmid)
  redis.call('HDEL', mk, 'lerr')
  local eid = ARGV[8]
  msg_event('message.sent', mid, m[2], ARGV[7], eid)
  if pmid ~= '' then
    pmid_set(P, m[3], pmid, mid)
    -- A status the platform reported before we knew this id (the webhook
    -- can beat the send call's answer) is applied now.
    local pk = k(P, 'pstatus', m[3], pmid)
    local parked = redis.call('HMGET', pk, 'st', 'err')
    if parked[1] then
      redis.call('DEL', pk)
      local rank = {delivered = 2, read = 3}
      if parked[1] == 'failed' then
        redis.call('HSET', mk, 'st', 'failed', 'err', parked[2] or 'null')
        msg_event('message.failed', mid, m[2], ARGV[7], eid_n(eid, 1))
      elseif rank[parked[1]] then
        redis.call('HSET', mk, 'st', parked[1])
        msg_event('message.' .. parked[1], mid, m[2], ARGV[7], eid_n(eid, 1))
      end
    end
  end
  return {'ok', 'done'}
elseif op == 'retry' then
  local mk = k(P, 'msg', ARGV[3])
  if redis.call('HGET', mk, 'st') == 'pending' then
    redis.call('HSET', mk, 'lerr', ARGV[6])
    redis.call('ZADD', k(P, 'outbox', 'retry'), ARGV[5], ARGV[3])
  end
  redis.call('XACK', OUTBOX, GROUP, ARGV[4])
  return {'ok', 'done'}
elseif op == 'fail' then
  local mid = ARGV[3]
  local mk = k(P, 'msg', mid)
  local m = redis.call('HMGET', mk, 'st', 'sid')
  redis.call('XACK', OUTBOX, GROUP, ARGV[4])
  if m[1] ~= 'pending' and m[1] ~= 'sent' then return {'ok', 'stale'} end
  redis.call('HSET', mk, 'st', 'failed', 'err', ARGV[5])
  redis.call('HDEL', mk, 'lerr')
  msg_event('message.failed', mid, m[2], ARGV[6], ARGV[7])
  return {'ok', 'done'}
elseif op == 'ack' then
  redis.call('XACK', OUTBOX, GROUP, ARGV[3])
  return {'ok', 'done'}
elseif op == 'spend' then
  local sid = redis.call('HGET', k(P, 'msg', ARGV[3]), 'sid')
  if sid and redis.call('HGET', k(P, 'ses', sid), 'reply_token') == ARGV[4] then
    redis.call('HDEL', k(P, 'ses', sid), 'reply_token', 'reply_token_ms')
  end
  return {'ok', 'done'}
elseif op == 'rate' then
  -- GCRA with a burst of one: P:rate:<ch> holds the earliest time (ms) the
  -- next send may start. Shared by every instance, so the rate is the
  -- channel's, not the process's.
  local rk = k(P, 'rate', ARGV[3])
  local interval, now = tonumber(ARGV[4]), tonumber(ARGV[5])
  local tat = tonumber(redis.call('GET', rk) or '0')
  if ARGV[6] ~= '' then
    -- The platform said "slow down": nobody sends on this channel before then.
    local pause = tonumber(ARGV[6])
    if pause > tat then redis.call('SET', rk, tostring(pause), 'PX', 3600000) end
    return {'ok', 0}
  end
  if tat > now then return {'ok', math.ceil(tat - now)} end
  redis.call('SET', rk, tostring(now + interval), 'PX', math.ceil(interval) + 60000)
  return {'ok', 0}
elseif op == 'pump' then
  local rk = k(P, 'outbox', 'retry')
  local due = redis.call('ZRANGEBYSCORE', rk, '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
  for _, mid in ipairs(due) do
    redis.call('ZREM', rk, mid)
    redis.call('XADD', OUTBOX, '*', 'm', mid)
  end
  return {'ok', #due}
elseif op == 'windows' then
  -- P:timers:window: sessions whose customer-service window closes at the
  -- score (ms). Claimed and re-checked here, so one instance fires each.
  local tk = k(P, 'timers', 'window')
  local now = tonumber(ARGV[3])
  local due = redis.call('ZRANGEBYSCORE', tk, '-inf', now, 'LIMIT', 0, tonumber(ARGV[4]))
  local n = 0
  for _, sid in ipairs(due) do
    redis.call('ZREM', tk, sid)
    local s = redis.call('HMGET', k(P, 'ses', sid), 'last_customer_ms', 'status', 'window_ms')
    local closes = tonumber(s[1] or '')
    if closes and s[2] ~= 'closed' and s[2] ~= 'archived' then
      closes = closes + (tonumber(s[3] or '') or 0)
      if closes > now then
        redis.call('ZADD', tk, closes, sid)   -- the customer wrote again meanwhile
      else
        emit(P, eid_n(ARGV[6], n), 'session.window_closed', sid, ARGV[5],
          '{"session":' .. session_json(P, sid) .. '}')
        n = n + 1
      end
    end
  end
  return {'ok', n}
end
return {'err', 'internal', 'outbox.lua: unknown op ' .. tostring(op)}
