-- webhook_dispatch_read.lua: read new entries of P:events through the
-- consumer group and queue them for the subscriptions that want them, in one
-- step (core/og_webhook_dispatch.h). Because reading and queuing are atomic, an entry is
-- never read without being queued: an instance that dies anywhere leaves
-- only leased queues behind, whose leases run out by themselves. And each
-- per-session queue holds its events in stream order, whichever dispatcher
-- or instance read them.
-- Items are "<entry>\t<n>\t<event id>\t<type>", n = the subscriptions the
-- entry was queued for. An entry queued for one subscription is
-- acknowledged with its result; for more, P:wh:owe counts those still
-- owing one; an entry nobody wants (or without type, id or event) is
-- acknowledged here.
-- The caller passes the active subscriptions as it knows them, at version
-- ver (P:webhooks:ver); if they changed since, nothing is read (-1): it must
-- reload and call again. So a subscription gets every entry read after it
-- was created.
-- ARGV: P, group, consumer, count, now_ms, ver, then per subscription: id,
-- k, k filters ("*", a type, or "<family>.*").
-- Replies (og_script.h): {'ok', -1} (stale subscriptions), {'ok', 0, last}
-- when nothing was new (last = the stream's last entry id, to wait for a
-- newer one), else {'ok', entries read, entry, event JSON, ...} for the
-- entries queued; {'err', 'not_found', ...} when the group does not exist
-- (the stream was deleted: the caller creates it again).
local P, group, consumer, count = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = ARGV[5]
if (redis.call('GET', P .. ':webhooks:ver') or '0') ~= ARGV[6] then return {'ok', -1} end
local stream, due, owe, WH = P .. ':events', P .. ':wh:due', P .. ':wh:owe', P .. ':wh:'

-- the subscriptions: id, whether it takes every type, exact types, families
local subs = {}
local i = 7
while i <= #ARGV do
  local s = {id = ARGV[i], q = WH .. ARGV[i] .. ':q:', all = false, types = {}, fams = {}}
  local k = tonumber(ARGV[i + 1])
  for f = i + 2, i + 1 + k do
    local flt = ARGV[f]
    if flt == '*' then s.all = true
    elseif string.sub(flt, -1) == '*' then s.fams[#s.fams + 1] = string.sub(flt, 1, -2)
    else s.types[flt] = true end
  end
  subs[#subs + 1] = s
  i = i + 2 + k
end

local function wants(s, t)
  if s.all or s.types[t] then return true end
  for _, f in ipairs(s.fams) do
    if string.sub(t, 1, #f) == f then return true end
  end
  return false
end

local r = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, '>')
if type(r) == 'table' and r.err then
  if string.find(r.err, 'NOGROUP', 1, true) then return {'err', 'not_found', r.err} end
  return r
end
if not r then
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  return {'ok', 0, last[1] and last[1][1] or '0-0'}
end
local entries = r[1][2]
local out, acks, owed, matched = {'ok', #entries}, {}, {}, {}
for _, e in ipairs(entries) do
  local xid, f = e[1], e[2]
  local t, ses, eid, ev
  for x = 1, #f, 2 do
    local name = f[x]
    if name == 'type' then t = f[x + 1]
    elseif name == 'session' then ses = f[x + 1]
    elseif name == 'id' then eid = f[x + 1]
    elseif name == 'event' then ev = f[x + 1] end
  end
  local n = 0
  if t and eid and ev then
    for _, s in ipairs(subs) do
      if wants(s, t) then n = n + 1; matched[n] = s end
    end
  end
  if n == 0 then
    acks[#acks + 1] = xid
  else
    local ns = tostring(n)
    local item = xid .. '\t' .. ns .. '\t' .. eid .. '\t' .. t
    -- events without a session have no order to keep: a queue each
    if not ses or ses == '' then ses = '~' .. xid end
    for m = 1, n do
      local s = matched[m]
      if redis.call('RPUSH', s.q .. ses, item) == 1 then
        redis.call('ZADD', due, now, s.id .. '\t' .. ses)
      end
    end
    if n > 1 then owed[#owed + 1] = xid; owed[#owed + 1] = ns end
    out[#out + 1] = xid
    out[#out + 1] = ev
  end
end
if #owed > 0 then redis.call('HSET', owe, unpack(owed)) end
if #acks > 0 then redis.call('XACK', stream, group, unpack(acks)) end
return out
