-- webhook_step.lua: one round trip of the dispatcher: record the finished
-- attempts and move their queues on, then claim due queues for the free
-- transfer slots (see core/og_webhooks.h).
--
-- Results: ok/dead/drop pop the head (dead also files the event id in the
-- dead-letter set) and make the session's next event due; retry counts the
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
-- Returns per claimed queue {member, sub, head, failed_tries, event_id,
-- type, event_json}; head is the stream entry id ("r:" prefix = a replay);
-- event_json is '' when the stream no longer holds the entry.
local P, group, now, cap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local lease, max = tonumber(ARGV[5]), tonumber(ARGV[6])
local due, stream = P .. ':wh:due', P .. ':events'
local WH, HOOK = P .. ':wh:', P .. ':webhook:'

for i = 7, #ARGV, 7 do
  local m, sub, head, outcome = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local next_due, eid, att = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local ses = string.sub(m, #sub + 2)
  local q, tries = WH .. sub .. ':q:' .. ses, WH .. sub .. ':tries'
  if att ~= '' then
    local dk = HOOK .. sub .. ':deliveries'
    if redis.call('LPUSH', dk, att) > cap then redis.call('LTRIM', dk, 0, cap - 1) end
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
          redis.call('DEL', mk)
          redis.call('XACK', stream, group, head)
        end
      end
      if redis.call('LLEN', q) > 0 then
        redis.call('ZADD', due, now, m)
      else
        redis.call('ZREM', due, m)
      end
    end
  end
end

local out = {}
if max < 1 then return out end
local members = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, max)
for _, m in ipairs(members) do
  local tab = string.find(m, '\t', 1, true)
  local sub, ses = string.sub(m, 1, tab - 1), string.sub(m, tab + 1)
  local head = redis.call('LINDEX', WH .. sub .. ':q:' .. ses, 0)
  if not head then
    redis.call('ZREM', due, m)
  else
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
end
return out
