-- stream.lua: the core's streams kept short without losing what is owed
-- (core/og_stream.c). An entry is owed while a consumer group has not
-- acknowledged it: pending in the group (read, not done), or not read yet
-- (after the group's last-delivered-id). Trimming removes entries below
-- the oldest one any group owes, keeping every entry of the last retain ms
-- (for clients that resume from an id: entry ids are their time). Only when
-- that still leaves more than max
-- entries (a consumer that stopped, a backlog beyond the bound that protects
-- Redis) does it cut owed entries; it then says how many and from where, so
-- the loss is logged and counted, never silent.
-- ARGV: P, stream name ('events' | 'outbox'), max entries, now_ms, retain_ms
-- -> {'ok', removed, owed removed, first owed id removed or '', length after}
local P, name, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now_ms, retain = tonumber(ARGV[4]), tonumber(ARGV[5])
local key = k(P, name)
local len = redis.call('XLEN', key)
if len == 0 then return {'ok', 0, 0, '', 0} end

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
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', key)
if ok then
  for _, g in ipairs(groups) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    local from = after(f['last-delivered-id'] or '0-0')
    if (tonumber(f.pending) or 0) > 0 then
      local p = redis.call('XPENDING', key, f.name)
      if p[2] and lt(p[2], from) then from = p[2] end
    end
    if not owed or lt(from, owed) then owed = from end
  end
end

-- the oldest entry to keep whatever is owed: the first of the retain window
local minid = tostring(now_ms - retain) .. '-0'
if retain <= 0 then minid = after(redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1][1]) end
if owed and lt(owed, minid) then minid = owed end
local removed = redis.call('XTRIM', key, 'MINID', minid)
len = len - removed
if len <= max then return {'ok', removed, 0, '', len} end

-- over the bound: owed entries go, the oldest first; say which
local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
local cut = redis.call('XTRIM', key, 'MAXLEN', max)
return {'ok', removed + cut, cut, first[1] and first[1][1] or '', len - cut}
