-- webhook_dispatch_step.lua: one round trip of a dispatcher: record the
-- finished attempts and move their queues on, then claim due queues for the
-- free transfer slots (core/og_webhook_dispatch.h).
--
-- Claims: a due (subscription, session) queue is leased (its score moves to
-- now + lease, so with several instances exactly one claims it, and a
-- claimer that dies lets it fall due again; the lease is recorded under the
-- claiming instance, lease_hold in prelude.lua, so that when that instance's
-- heartbeat stops instances.lua makes the queue due at once rather than at
-- the lease's end) and its first `chain` items are
-- handed out. The dispatcher sends them one after another, each only after
-- the one before it got a 2xx, and stops at the first failure, so only one
-- item of a queue is ever in flight and per-session order is kept.
--
-- Results come per claim, in queue order: ok/dead/drop pop the head (dead
-- also files the event id in the dead-letter set); retry, which ends a
-- claim's results, counts the failure and makes the queue due again at
-- next_due_ms. Else the queue is made due now if it holds more (due
-- queues are claimed oldest first, so each waits its turn behind those due
-- longer), or leaves the due set when empty. When every subscription
-- is done with a stream entry it is acknowledged (XACK). The results of a
-- claim whose first item is no longer at the front (its lease expired and
-- another instance took the queue over) are only recorded; when it is, the
-- rest are the items that followed it, since a queue only ever grows at its
-- tail and is popped by its lease holder.
--
-- ARGV: P, group, now_ms, cap (attempts kept), lease_ms, max (queues to
-- claim), chain (items per claim), ver (P:webhooks:ver of the caller's copy
-- of the subscriptions, which lease_ms covers: when they changed since,
-- nothing is claimed and stale is 1, after the results are recorded),
-- inst (the claiming instance, og_instance.h; '' = none), then per claim 5
-- values: member
-- ("<sub>\t<session>"), sub, k, failed tries before its first attempt,
-- next_due_ms (of a retry that ends it, else 0); and its k results of 5
-- values: head, outcome ("ok", "retry", "dead", "drop"), n (subscriptions
-- the entry was queued for; 0 for a replay), event id, attempt record
-- (og_webhook_attempt_put; '' = do not record).
-- Keys are concatenated inline (not with k()): this runs once per claim.
-- Replies (og_script.h) {'ok', stale (0 or 1), claim...}, a claim per
-- claimed queue: {member, sub, failed tries of the first item, item, ...}.
local P, group, now, cap = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local lease, max, chain = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local stale = (redis.call('GET', P .. ':webhooks:ver') or '0') ~= ARGV[8]
if stale then max = 0 end
local inst = ARGV[9]
local due, stream, owe = P .. ':wh:due', P .. ':events', P .. ':wh:owe'
local WH, HOOK = P .. ':wh:', P .. ':webhook:'

local out = {'ok', stale and 1 or 0}

-- Leases queue m and hands out its first items; an empty queue is no
-- longer due. Returns whether it claimed.
local leased, last_item = tostring(now + lease), tostring(chain - 1)
local function claim(m, sub, q)
  local items = redis.call('LRANGE', q, 0, last_item)
  if #items == 0 then
    redis.call('ZREM', due, m)
    return false
  end
  lease_hold(P, inst, due, m, leased)
  local head = string.match(items[1], '^[^\t]*')
  local tries = redis.call('HGET', WH .. sub .. ':tries', head) or '0'
  out[#out + 1] = {m, sub, tries, unpack(items)}
  return true
end

-- Attempts, per subscription: pushed together after the loop (one LPUSH
-- and at most one LTRIM per subscription and step). Entries every
-- subscription is done with: acknowledged together (and those queued for
-- several dropped from P:wh:owe).
local attempts, subs_seen, acks, owed = {}, {}, {}, {}
local i = 10
while i <= #ARGV do
  local m, sub, k, tries, next_due = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3],
    ARGV[i + 4]
  local first, last = i + 5, i + 5 * k -- the first and last result
  local l = attempts[sub]
  for r = first, last, 5 do
    local att = ARGV[r + 4]
    if att ~= '' then
      if not l then l = {}; attempts[sub] = l; subs_seen[#subs_seen + 1] = sub end
      l[#l + 1] = att
    end
  end
  local ses = string.sub(m, #sub + 2)
  local q, tk = WH .. sub .. ':q:' .. ses, WH .. sub .. ':tries'
  -- this claim is over, whatever follows (a claim again records anew)
  lease_drop(P, inst, due, m)
  local front = redis.call('LINDEX', q, 0)
  if front and string.match(front, '^[^\t]*') == ARGV[first] then
    local popped, retry = 0, false
    for r = first, last, 5 do
      local head, outcome, n, eid = ARGV[r], ARGV[r + 1], ARGV[r + 2], ARGV[r + 3]
      if outcome == 'retry' then
        redis.call('HINCRBY', tk, head, 1)
        redis.call('ZADD', due, next_due, m)
        retry = true
        break
      end
      -- only the first item of a claim can have failed before
      if r == first and tries ~= '0' then redis.call('HDEL', tk, head) end
      popped = popped + 1
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
      -- The queue's next items wait their turn: made due now, behind the
      -- queues due longer, and claimed oldest first below. So every
      -- session's queue gets its turn (a queue handed on at once kept its
      -- slot while it had items, and a backlog of a few sessions held
      -- back all the others), and with a backlog spread over many sessions
      -- the queues have filled up by their turn: claims carry whole chains
      -- and the Redis work per claim is shared by more deliveries (handing
      -- a queue on at once re-claimed the same few queues one or two items
      -- at a time). With nothing else due it is claimed below in this same
      -- step, so a quiet stream waits no longer.
      if redis.call('LLEN', q) > 0 then
        redis.call('ZADD', due, now, m)
      else
        redis.call('ZREM', due, m)
      end
    end
  end
  i = last + 5
end

if #owed > 0 then redis.call('HDEL', owe, unpack(owed)) end
if #acks > 0 then redis.call('XACK', stream, group, unpack(acks)) end
for _, sub in ipairs(subs_seen) do
  local dk = HOOK .. sub .. ':deliveries'
  if redis.call('LPUSH', dk, unpack(attempts[sub])) > cap then
    redis.call('LTRIM', dk, 0, cap - 1)
  end
end

if stale then return out end
if max < 1 then return out end
local members = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, max)
for _, m in ipairs(members) do
  local tab = string.find(m, '\t', 1, true)
  local sub, ses = string.sub(m, 1, tab - 1), string.sub(m, tab + 1)
  claim(m, sub, WH .. sub .. ':q:' .. ses)
end
return out
