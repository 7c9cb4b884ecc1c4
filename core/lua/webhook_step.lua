-- webhook_step.lua: one round trip of the dispatcher: record the finished
-- attempts and move their queues on, then claim due queues for the free
-- transfer slots (see core/og_webhooks.h).
--
-- Claims: a due (subscription, session) queue is leased (its score moves to
-- now + lease, so with several instances exactly one claims it, and a
-- claimer that dies lets it fall due again) and its first `chain` items are
-- handed out. The dispatcher sends them one after another, each only after
-- the one before it got a 2xx, and stops at the first failure, so only one
-- item of a queue is ever in flight and per-session order is kept.
--
-- Results come per claim, all of a claim's attempts next to each other in
-- queue order: ok/dead/drop pop the head (dead also files the event id in
-- the dead-letter set); retry counts the failure and makes the queue due
-- again at next_due_ms. Then the queue is handed on: its next items are
-- claimed at once when a slot is free, else it is made due. When every
-- subscription is done with a stream entry it is acknowledged (XACK). The
-- results of a claim whose first item is no longer at the front (its lease
-- expired and another instance took the queue over) are only recorded; when
-- it is, the rest are the items that followed it, since a queue only ever
-- grows at its tail and is popped by its lease holder.
--
-- ARGV: P, group, now_ms, cap (attempts kept), lease_ms, max (queues to
-- claim), chain (items per claim), then per result 9 values: member
-- ("<sub>\t<session>"), sub, head, outcome ("ok", "retry", "dead", "drop"),
-- next_due_ms, event id, attempt JSON ('' = do not record), failed tries
-- before this attempt, n (subscriptions the entry was queued for; 0 for a
-- replay).
-- Keys are concatenated inline (not with k()): this runs once per chain.
-- Returns per claimed queue {member, sub, failed tries of the first item,
-- item, ...}.
local P, group, now, cap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local lease, max, chain = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local due, stream, owe = P .. ':wh:due', P .. ':events', P .. ':wh:owe'
local WH, HOOK = P .. ':wh:', P .. ':webhook:'
local NF = 9

local out = {}

-- Leases queue m and hands out its first items; an empty queue is no
-- longer due.
local function claim(m, sub, q)
  local items = redis.call('LRANGE', q, 0, chain - 1)
  if #items == 0 then
    redis.call('ZREM', due, m)
    return
  end
  redis.call('ZADD', due, now + lease, m)
  local head = string.match(items[1], '^[^\t]*')
  local tries = redis.call('HGET', WH .. sub .. ':tries', head) or '0'
  out[#out + 1] = {m, sub, tries, unpack(items)}
end

-- Attempts, per subscription: pushed together after the loop (one LPUSH
-- and at most one LTRIM per subscription and step).
local attempts, subs_seen = {}, {}
for i = 8, #ARGV, NF do
  local sub, att = ARGV[i + 1], ARGV[i + 6]
  if att ~= '' then
    local l = attempts[sub]
    if not l then l = {}; attempts[sub] = l; subs_seen[#subs_seen + 1] = sub end
    l[#l + 1] = att
  end
end

-- Entries every subscription is done with: acknowledged together after
-- the loop (and those queued for several dropped from P:wh:owe).
local acks, owed = {}, {}
local i = 8
while i <= #ARGV do
  local m, sub = ARGV[i], ARGV[i + 1]
  -- this claim's results: i .. j
  local j = i
  while j + NF <= #ARGV and ARGV[j + NF] == m do j = j + NF end
  local ses = string.sub(m, #sub + 2)
  local q, tries = WH .. sub .. ':q:' .. ses, WH .. sub .. ':tries'
  local front = redis.call('LINDEX', q, 0)
  if front and string.match(front, '^[^\t]*') == ARGV[i + 2] then
    local popped, retry = 0, false
    for r = i, j, NF do
      local head, outcome, eid, n = ARGV[r + 2], ARGV[r + 3], ARGV[r + 5], ARGV[r + 8]
      if outcome == 'retry' then
        redis.call('HINCRBY', tries, head, 1)
        redis.call('ZADD', due, ARGV[r + 4], m)
        retry = true
        break
      end
      popped = popped + 1
      if ARGV[r + 7] ~= '0' then redis.call('HDEL', tries, head) end
      if outcome == 'dead' and eid ~= '' then
        redis.call('ZADD', HOOK .. sub .. ':dead', now, eid)
      elseif outcome == 'ok' and string.sub(head, 1, 2) == 'r:' then
        -- only a replay can succeed for a dead-lettered event
        redis.call('ZREM', HOOK .. sub .. ':dead', eid)
      end
      if n == '1' then
        acks[#acks + 1] = head
      elseif n ~= '0' and redis.call('HINCRBY', owe, head, -1) <= 0 then
        acks[#acks + 1] = head
        owed[#owed + 1] = head
      end
    end
    if popped > 0 then redis.call('LPOP', q, popped) end
    if not retry then
      if max > 0 and ARGV[j + 3] ~= 'drop' then
        -- the session's next items go out at once, claimed here rather
        -- than made due and found again below
        claim(m, sub, q)
        max = max - 1
      elseif redis.call('LLEN', q) > 0 then
        redis.call('ZADD', due, now, m)
      else
        redis.call('ZREM', due, m)
      end
    end
  end
  i = j + NF
end

if #owed > 0 then redis.call('HDEL', owe, unpack(owed)) end
if #acks > 0 then redis.call('XACK', stream, group, unpack(acks)) end
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
  claim(m, sub, WH .. sub .. ':q:' .. ses)
end
return out
