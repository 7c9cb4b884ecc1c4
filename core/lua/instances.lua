-- instances.lua: instances' heartbeats, and the takeover of a dead one's work
-- (core/og_instance.c). An instance's id names its consumers in the groups
-- ("<id>" or "<id>-<n>") and its leases (P:inst:<id>:held, see lease_hold in
-- prelude.lua). When its heartbeat P:inst:<id> runs out (a kill -9, a
-- frozen host), any live instance hands all of that back at once, instead
-- of leaving it to wait out idle times and leases of tens of seconds:
--   - entries its consumers left pending are marked idle since long ago
--     (XCLAIM ... IDLE), so the next XAUTOCLAIM of any live consumer takes
--     them (og_stream.c); an outbound message's "attempt started" mark goes
--     too, so the sender that takes it does not wait for that attempt;
--   - its leases in due zsets fall due now (a lease already ended and
--     claimed again by someone else is left alone: its score moved on).
-- A consumer is deleted once nothing is pending for it, and the instance
-- is forgotten once it has no consumer and no lease left; a dead instance
-- with much pending is handed back over several calls (BATCH per consumer).
-- ARGV[1] = P, ARGV[2] = op:
--   beat  id ttl_ms          -> {'ok'}
--   reap  self              -> {'ok', dead instances seen, entries, leases}
--   leave id                -> {'ok', entries, leases}: a clean stop hands back
--                              what it still holds
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]
-- The groups whose entries stay pending while their work is in flight.
-- (The "webhooks" group's pending entries are the events still owed to some
-- subscription; the work itself is in the leased queues of P:wh:due.)
local GROUPS = {{'outbox', 'senders'}, {'events', 'followups'}}
local BATCH = 200
-- XCLAIM's IDLE: about 31 years, always less than Redis's clock (a larger
-- one is taken as 0) and more than any group's idle time.
local LONG_AGO = '1000000000000'

local function mine(name, id)
  return name == id or name:sub(1, #id + 1) == id .. '-'
end

-- Hands back one consumer's pending entries. Returns (entries, consumer left).
local function release_consumer(key, group, name, is_outbox)
  local n = 0
  local pend = redis.call('XPENDING', key, group, '-', '+', BATCH, name)
  local ids = {}
  for _, e in ipairs(pend) do
    -- e = {id, consumer, idle ms, deliveries}: skip those handed back already
    if e[3] < tonumber(LONG_AGO) then ids[#ids + 1] = e[1] end
  end
  if #ids > 0 then
    local args = {'XCLAIM', key, group, name, 0}
    for _, id in ipairs(ids) do args[#args + 1] = id end
    args[#args + 1] = 'IDLE'
    args[#args + 1] = LONG_AGO
    for _, entry in ipairs(redis.call(unpack(args))) do
      n = n + 1
      if is_outbox and entry[2] then
        local f = entry[2]
        for i = 1, #f, 2 do
          if f[i] == 'm' then redis.call('HDEL', k(P, 'msg', f[i + 1]), 'try_ms') end
        end
      end
    end
  end
  if #pend == 0 then
    redis.call('XGROUP', 'DELCONSUMER', key, group, name)
    return n, false
  end
  return n, true
end

-- Hands back what instance id holds. Returns (entries, leases, anything left).
local function release(id)
  local entries, left = 0, false
  for _, g in ipairs(GROUPS) do
    local key = k(P, g[1])
    local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', key, g[2])
    if ok then
      for _, c in ipairs(consumers) do
        local name = c[2] -- {'name', name, 'pending', n, 'idle', ms, ...}
        if mine(name, id) then
          local n, still = release_consumer(key, g[2], name, g[1] == 'outbox')
          entries = entries + n
          left = left or still
        end
      end
    end
  end
  local leases = 0
  local hk = k(P, 'inst', id, 'held')
  local held = redis.call('HGETALL', hk)
  local now = redis.call('TIME')
  local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
  for i = 1, #held, 2 do
    local zkey, member = string.match(held[i], '^(.-)\n(.*)$')
    local score = zkey and redis.call('ZSCORE', zkey, member)
    if score and tonumber(score) == tonumber(held[i + 1]) then
      redis.call('ZADD', zkey, 'XX', now_ms, member)
      leases = leases + 1
    end
  end
  redis.call('DEL', hk)
  return entries, leases, left
end

if op == 'beat' then
  redis.call('SET', k(P, 'inst', ARGV[3]), '1', 'PX', ARGV[4])
  redis.call('SADD', k(P, 'instances'), ARGV[3])
  return {'ok'}
elseif op == 'reap' then
  local dead, entries, leases = 0, 0, 0
  for _, id in ipairs(redis.call('SMEMBERS', k(P, 'instances'))) do
    if id ~= ARGV[3] and redis.call('EXISTS', k(P, 'inst', id)) == 0 then
      dead = dead + 1
      local e, l, left = release(id)
      entries, leases = entries + e, leases + l
      if not left then redis.call('SREM', k(P, 'instances'), id) end
    end
  end
  return {'ok', dead, entries, leases}
elseif op == 'leave' then
  redis.call('DEL', k(P, 'inst', ARGV[3]))
  local e, l, left = release(ARGV[3])
  if not left then redis.call('SREM', k(P, 'instances'), ARGV[3]) end
  return {'ok', e, l}
end
return {'err', 'invalid', 'unknown op'}
