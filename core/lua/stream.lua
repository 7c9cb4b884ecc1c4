-- stream.lua: the core's streams kept short without losing what is owed
-- (core/og_stream.c). An entry is owed while a consumer group has not
-- acknowledged it: pending in the group (read, not done), or not read yet
-- (after the group's last-delivered-id). Trimming removes entries below
-- the oldest one any group owes, keeping every entry of the last retain ms
-- (for clients that resume from an id: entry ids are their time, and the
-- time is Redis's own, the clock that made them). Only when that still
-- leaves more than max entries, or more than max_bytes (MEMORY USAGE of the
-- stream: Redis's estimate from sampled nodes, its consumer groups
-- included), does it cut owed entries, the oldest first, down to a low
-- water mark (95 % of the bound, so a consumer that stopped is not cut
-- every second), at most chunk entries per call (the caller calls again
-- while more is 1, so Redis serves others in between). It then says how
-- many and from where, so the loss is logged and counted, never silent.
--
-- On P:events it also says who lost what: per consumer group the entries
-- it owed, and per webhook subscription the events it had not been sent.
-- An entry the group "webhooks" read is in the per-session queues
-- (webhook_dispatch_read.lua) of the subscriptions still owing it; since a
-- queue holds its entries in stream order and older entries went first, an
-- owing queue has it at its front (after any replay items): the item is
-- taken out of the queue (it can never be sent now), and the entry is
-- acknowledged. An entry the group had not read yet is lost for every
-- active subscription that wants its type. Each such subscription is
-- marked lagging in P:webhooks:lag (id -> "count\tfirst event id\tfirst
-- entry\tlast event id\tlast entry\tsince ms"): the count grows and the
-- first lost event stays until an operator clears the mark (og_webhooks.h).
--
-- ARGV: P, stream name ('events' | 'outbox'), max entries (0 = no bound),
-- retain_ms, max_bytes (0 = no bound), chunk, cutting (see below)
-- -> {'ok', removed, owed removed, first owed id removed or '', length after,
--     bytes after (0 when not measured), more (0/1),
--     {'g', group, owed removed, first removed}..., then per lagging subscription
--     {'wh', sub, lost now, first lost event id, total lost, first ever, since}}
local P, name, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local retain, max_bytes, chunk = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
-- 1 in the rounds after one that cut: the cut goes on down to the low
-- water mark (95 %), not only to the bound
local cutting = ARGV[7] == '1'
local key = k(P, name)
local len = redis.call('XLEN', key)
if len == 0 then return {'ok', 0, 0, '', 0, 0, 0} end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- the first id after "ms-seq"
local function after(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if not ms then return '0-1' end
  return ms .. '-' .. tostring(tonumber(seq) + 1)
end
local function lt(a, b) -- a < b for stream ids
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am < bm end
  return tonumber(as) < tonumber(bs)
end

local owed = nil -- the oldest id any group owes
local groups = {} -- {name, from (oldest owed), last (last-delivered-id)}
local ok, info = pcall(redis.call, 'XINFO', 'GROUPS', key)
if ok then
  for _, g in ipairs(info) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    local last = f['last-delivered-id'] or '0-0'
    local from = after(last)
    if (tonumber(f.pending) or 0) > 0 then
      local p = redis.call('XPENDING', key, f.name)
      if p[2] and lt(p[2], from) then from = p[2] end
    end
    groups[#groups + 1] = {name = f.name, from = from, last = last}
    if not owed or lt(from, owed) then owed = from end
  end
end

-- the oldest entry to keep whatever is owed: the first of the retain window
local minid = tostring(now_ms - retain) .. '-0'
if retain <= 0 then minid = after(redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1][1]) end
if owed and lt(owed, minid) then minid = owed end
local removed = redis.call('XTRIM', key, 'MINID', minid)
len = len - removed

-- the bounds: how many entries may stay
local bytes = 0
local keep = len
local over = cutting and 0.95 or 1
if max > 0 and len > max * over then keep = math.floor(max * 0.95) end
if max_bytes > 0 and len > 0 then
  bytes = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', 16) or 0
  if bytes > max_bytes * over then
    local fit = math.floor(max_bytes * 0.95 / (bytes / len))
    if fit < keep then keep = fit end
  end
end
if keep >= len then return {'ok', removed, 0, '', len, bytes, 0} end

-- over a bound: the oldest entries go, owed or not; say which were owed.
-- The webhook subscriptions, for P:events:
local subs, wh = {}, nil
if name == 'events' then
  local all = redis.call('HGETALL', k(P, 'webhooks'))
  local off = k(P, 'webhooks', 'off')
  for i = 1, #all, 2 do
    local okj, j = pcall(cjson.decode, all[i + 1])
    local s = {id = all[i], all = false, types = {}, fams = {}, active = false, lost = 0}
    if okj and type(j) == 'table' then
      s.active = j.enabled ~= false and redis.call('HEXISTS', off, all[i]) == 0
      for _, flt in ipairs(type(j.events) == 'table' and j.events or {}) do
        if flt == '*' then s.all = true
        elseif string.sub(flt, -1) == '*' then s.fams[#s.fams + 1] = string.sub(flt, 1, -2)
        else s.types[flt] = true end
      end
    end
    s.q = k(P, 'wh', s.id, 'q') .. ':'
    subs[#subs + 1] = s
  end
  for gi = 1, #groups do
    if groups[gi].name == 'webhooks' then wh = groups[gi] end
  end
end
-- each entry costs a look at every subscription's queue: fewer entries per
-- round when there are many subscriptions
local per = math.floor(chunk * 4 / (#subs + 1))
if per > chunk then per = chunk end
if per < 50 then per = 50 end
local n, more = len - keep, 0
if n > per then n, more = per, 1 end
local cut = redis.call('XRANGE', key, '-', '+', 'COUNT', n)
local last_cut = cut[#cut][1]
local out = {'ok', 0, 0, '', 0, 0, more}
local owed_n, first_owed = 0, ''
local gl = {} -- per group: owed entries removed, the first
for gi = 1, #groups do gl[gi] = {0, ''} end

local function s_q(id, ses) return k(P, 'wh', id, 'q') .. ':' .. ses end
local function wants(s, ty)
  if s.all or s.types[ty] then return true end
  for _, f in ipairs(s.fams) do
    if string.sub(ty, 1, #f) == f then return true end
  end
  return false
end
-- Takes entry xid out of queue q when it is there: at the front, since a
-- queue holds its entries in stream order and older ones went first, or
-- after replay items ("r:<entry>", appended in any order); 1 when it was.
local function unqueue(q, xid)
  local front = redis.call('LINDEX', q, 0)
  if not front then return 0 end
  local head = string.match(front, '^[^\t]*')
  if head == xid then
    redis.call('LPOP', q)
    return 1
  end
  if string.sub(head, 1, 2) ~= 'r:' then return 0 end
  for _, it in ipairs(redis.call('LRANGE', q, 1, 15)) do
    head = string.match(it, '^[^\t]*')
    if head == xid then
      redis.call('LREM', q, 1, it)
      return 1
    end
    if string.sub(head, 1, 2) ~= 'r:' then return 0 end
  end
  return 0
end
local due, owe = k(P, 'wh', 'due'), k(P, 'wh', 'owe')
local acks = {}
local touched, tq = {}, {} -- queues items were taken from: {sub, session}

-- ids as {ms, seq} numbers once, compared without parsing per entry
local function num(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return {tonumber(ms) or 0, tonumber(seq) or 0}
end
local function nlt(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end
for _, g in ipairs(groups) do g.nfrom, g.nlast = num(g.from), num(g.last) end

for _, e in ipairs(cut) do
  local xid = e[1]
  local nx = num(xid)
  local is_owed = false
  for gi, g in ipairs(groups) do
    if not nlt(nx, g.nfrom) then
      is_owed = true
      local x = gl[gi]
      if x[1] == 0 then x[2] = xid end
      x[1] = x[1] + 1
    end
  end
  if is_owed then
    if owed_n == 0 then first_owed = xid end
    owed_n = owed_n + 1
  end
  -- read by the group and gone now: acknowledged whoever had it queued
  -- (a deleted subscription's items are dropped by the dispatcher)
  local read = wh and not nlt(nx, wh.nfrom) and not nlt(wh.nlast, nx)
  if read then acks[#acks + 1] = xid end
  if wh and #subs > 0 and not nlt(nx, wh.nfrom) then
    local f, ty, ses, eid = e[2], nil, nil, nil
    for x = 1, #f, 2 do
      if f[x] == 'type' then ty = f[x + 1]
      elseif f[x] == 'session' then ses = f[x + 1]
      elseif f[x] == 'id' then eid = f[x + 1] end
    end
    if not ses or ses == '' then ses = '~' .. xid end
    for _, s in ipairs(subs) do
      local lost = 0
      if read then
        local q = s.q .. ses
        lost = unqueue(q, xid)
        if lost == 1 then
          if not s.taken then s.taken = {} end
          s.taken[#s.taken + 1] = xid
          if not touched[q] then touched[q] = true; tq[#tq + 1] = {s.id, ses} end
        end
      elseif ty and eid and s.active and wants(s, ty) then
        lost = 1
      end
      if lost == 1 then
        if s.lost == 0 then s.first, s.first_entry = eid or '', xid end
        s.lost = s.lost + 1
        s.last, s.last_entry = eid or '', xid
      end
    end
  end
end
-- queues emptied are no longer due; retry counts of items taken go
for _, x in ipairs(tq) do
  if redis.call('LLEN', s_q(x[1], x[2])) == 0 then redis.call('ZREM', due, x[1] .. '\t' .. x[2]) end
end
for _, s in ipairs(subs) do
  if s.taken then redis.call('HDEL', k(P, 'wh', s.id, 'tries'), unpack(s.taken)) end
end
local trimmed = redis.call('XTRIM', key, 'MINID', after(last_cut))
if #acks > 0 then
  redis.call('XACK', key, 'webhooks', unpack(acks))
  redis.call('HDEL', owe, unpack(acks))
end
len = len - trimmed
if max_bytes > 0 and len > 0 then bytes = redis.call('MEMORY', 'USAGE', key, 'SAMPLES', 16) or 0 end
out[2], out[3], out[4], out[5], out[6] = removed + trimmed, owed_n, first_owed, len, bytes
for gi, g in ipairs(groups) do
  if gl[gi][1] > 0 then out[#out + 1] = {'g', g.name, gl[gi][1], gl[gi][2]} end
end

-- the subscriptions that lost events: marked lagging
local lag = k(P, 'webhooks', 'lag')
for _, s in ipairs(subs) do
  if s.lost > 0 then
    local cur = redis.call('HGET', lag, s.id)
    local total, first, first_entry, since = s.lost, s.first, s.first_entry, tostring(now_ms)
    if cur then
      local c, f1, f2, _, _, sn = string.match(cur,
        '^(%d+)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(%d+)$')
      if c then
        total, first, first_entry, since = tonumber(c) + s.lost, f1, f2, sn
      end
    end
    redis.call('HSET', lag, s.id, table.concat({tostring(total), first, first_entry, s.last,
      s.last_entry, since}, '\t'))
    out[#out + 1] = {'wh', s.id, s.lost, s.first, total, first, since}
  end
end
return out
