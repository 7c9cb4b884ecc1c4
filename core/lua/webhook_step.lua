-- webhook_step.lua: one round trip of the dispatcher: record the finished
-- attempts and move their queues on, then claim due queues for the free
-- transfer slots (see core/og_webhooks.h).
--
-- Results: ok/dead/drop pop the head (dead also files the event id in the
-- dead-letter set) and the session's next event is claimed at once when a
-- slot is free (else made due); retry counts the
-- failure and makes the head due again at next_due_ms. When every
-- subscription is done with a stream entry it is acknowledged (XACK). A
-- result for a head that is no longer at the front (its lease expired and
-- another instance took it over) is only recorded.
--
-- Claims: due (subscription, session) queues are leased: the score moves to
-- now + lease, so with several instances exactly one claims each, and a
-- claimer that dies lets it fall due again.
--
-- ARGV: P, group, now_ms, cap (attempts kept), lease_ms, max (queues to
-- claim), then per result 7 values: member ("<sub>\t<session>"), sub, head,
-- outcome ("ok", "retry", "dead", "drop"), next_due_ms, event id, attempt
-- JSON ('' = do not record).
-- Keys are concatenated inline (not with k()): this runs once per delivery.
-- Attempts are recorded with one LPUSH per subscription and step.
-- Returns per claimed queue {member, sub, head, failed_tries, event_id,
-- type, event_json}; head is the stream entry id ("r:" prefix = a replay);
-- event_json is '' when the stream no longer holds the entry.
local P, group, now, cap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local lease, max = tonumber(ARGV[5]), tonumber(ARGV[6])
local due, stream = P .. ':wh:due', P .. ':events'
local WH, HOOK = P .. ':wh:', P .. ':webhook:'

local out = {}

-- Leases queue m (its head is in flight until now + lease) and returns the
-- claim record for the dispatcher.
local function claim(m, sub, q, head)
  redis.call('ZADD', due, now + lease, m)
  local xid = head
  if string.sub(head, 1, 2) == 'r:' then xid = string.sub(head, 3) end
  local tries = redis.call('HGET', WH .. sub .. ':tries', head) or '0'
  local eid, etype, ev = '', '', ''
  local e = redis.call('XRANGE', stream, xid, xid)
  if e[1] then
    local f = e[1][2]
    for x = 1, #f, 2 do
      if f[x] == 'event' then ev = f[x + 1]
      elseif f[x] == 'id' then eid = f[x + 1]
      elseif f[x] == 'type' then etype = f[x + 1] end
    end
  end
  out[#out + 1] = {m, sub, head, tries, eid, etype, ev}
end

-- Attempts to record, per subscription: pushed together after the loop
-- (one LPUSH and at most one LTRIM per subscription and step).
local attempts, subs_seen = {}, {}
-- Entries every subscription is done with: acknowledged together, and
-- their markers deleted together, after the loop.
local acks, done_keys = {}, {}

for i = 7, #ARGV, 7 do
  local m, sub, head, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local next_due, eid, att = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local ses = string.sub(m, #sub + 2)
  local q, tries = WH .. sub .. ':q:' .. ses, WH .. sub .. ':tries'
  if att ~= '' then
    local l = attempts[sub]
    if not l then l = {}; attempts[sub] = l; subs_seen[#subs_seen + 1] = sub end
    l[#l + 1] = att
  end
  if redis.call('LINDEX', q, 0) == head then
    if outcome == 'retry' then
      redis.call('HINCRBY', tries, head, 1)
      redis.call('ZADD', due, next_due, m)
    else
      redis.call('LPOP', q)
      redis.call('HDEL', tries, head)
      if outcome == 'dead' and eid ~= '' then
        redis.call('ZADD', HOOK .. sub .. ':dead', now, eid)
      elseif outcome == 'ok' and string.sub(head, 1, 2) == 'r:' then
        -- only a replay can succeed for a dead-lettered event
        redis.call('ZREM', HOOK .. sub .. ':dead', eid)
      end
      if string.sub(head, 1, 2) ~= 'r:' then
        local mk = WH .. 'ev:' .. head
        if redis.call('DECR', mk) <= 0 then
          done_keys[#done_keys + 1] = mk
          acks[#acks + 1] = head
        end
      end
      local nxt = redis.call('LINDEX', q, 0)
      if not nxt then
        redis.call('ZREM', due, m)
      elseif max > 0 and outcome ~= 'drop' then
        -- the session's next event goes out at once, claimed here rather
        -- than made due and found again below
        claim(m, sub, q, nxt)
        max = max - 1
      else
        redis.call('ZADD', due, now, m)
      end
    end
  end
end

if #acks > 0 then
  redis.call('DEL', unpack(done_keys))
  redis.call('XACK', stream, group, unpack(acks))
end
for _, sub in ipairs(subs_seen) do
  local dk = HOOK .. sub .. ':deliveries'
  if redis.call('LPUSH', dk, unpack(attempts[sub])) > cap then
    redis.call('LTRIM', dk, 0, cap - 1)
  end
end

if max < 1 then return out end
local members = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, max)
for _, m in ipairs(members) do
  local tab = string.find(m, '\t', 1, true)
  local sub, ses = string.sub(m, 1, tab - 1), string.sub(m, tab + 1)
  local q = WH .. sub .. ':q:' .. ses
  local head = redis.call('LINDEX', q, 0)
  if not head then
    redis.call('ZREM', due, m)
  else
    claim(m, sub, q, head)
  end
end
return out
