-- stats.lua: statistics (og_stats.h), the steps of og_stats.c. The counters
-- themselves are written by the scripts that change the facts (the
-- prelude's st_*); this script reads them, rebuilds them, and keeps the
-- report links.
-- ARGV[1] = P, ARGV[2] = op:
--   "read"  [3] '1' to include agents and groups, [4..] UTC hour numbers (Unix
--           ms / 3600000) -> {'ok', {agent id, presence, since ms, ...}, {group...},
--           {HGETALL of P:st:h:<n>}...} (agents and groups empty when [3] ~= '1')
--   "rebuild_sessions" [3] start rank in P:idx:all, [4] count -> {'ok', next rank
--           or -1, sessions done}: adds each session's facts to the hourly
--           counters again, from what is stored (og_stats_rebuild deleted them)
--   "rebuild_presence" [3] start rank in P:st:pres, [4] count -> {'ok', next
--           rank or -1, intervals done}
local P, op = ARGV[1], ARGV[2]

if op == 'read' then
  local ag, groups = {}, {}
  if ARGV[3] == '1' then
    for _, id in ipairs(redis.call('SMEMBERS', k(P, 'agents'))) do
      local h = redis.call('HMGET', k(P, 'agent', id), 'presence', 'presence_since_ms')
      ag[#ag + 1] = id
      ag[#ag + 1] = h[1] or 'offline'
      ag[#ag + 1] = h[2] or ''
    end
    groups = redis.call('HKEYS', k(P, 'groups'))
  end
  local out = {'ok', ag, groups}
  for i = 4, #ARGV do out[#out + 1] = redis.call('HGETALL', P .. ':st:h:' .. ARGV[i]) end
  return out
end

-- The rebuild replays a session's stored history (its timeline and its
-- messages, merged by time) through the same st_* counting the scripts do
-- live, keeping what the session hash held then (agent, group, queue).
local B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
local B32V = {}
for i = 1, 32 do B32V[B32:sub(i, i)] = i - 1 end
-- The time (ms) in an id: its first 10 characters after the prefix.
local function id_ms(id)
  local p = id:find('_', 1, true) or 0
  local v = 0
  for i = p + 1, p + 10 do v = v * 32 + (B32V[id:sub(i, i)] or 0) end
  return v
end

local function by_agent(by)
  return type(by) == 'table' and by.type == 'agent' and by.id or nil
end
local function agent_id(a)
  return type(a) == 'table' and a.id or nil
end
local function str(v) return type(v) == 'string' and v or '' end

local function rebuild_session(sid)
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return end
  local ch = s.channel or ''
  local ev = {}
  for i, e in ipairs(redis.call('LRANGE', k(P, 'ses', sid, 'tl'), 0, -1)) do
    local j = cjson.decode(e)
    ev[#ev + 1] = {t = ms_of_iso(j.at) or 0, o = i, tl = j}
  end
  local ntl = #ev
  for i, mid in ipairs(redis.call('ZRANGE', k(P, 'ses', sid, 'msgs'), 0, -1)) do
    local m = redis.call('HMGET', k(P, 'msg', mid), 'dir', 'j')
    local kind = 'in'
    if m[1] == 'out' then
      kind = (m[2] and m[2]:find('"sender":{"type":"system"', 1, true)) and nil or 'out'
    end
    if kind then ev[#ev + 1] = {t = id_ms(mid), o = ntl + i, m = kind} end
  end
  table.sort(ev, function(a, b)
    if a.t ~= b.t then return a.t < b.t end
    return a.o < b.o
  end)
  -- x: the session's hash as it was (st_tuple reads it)
  local x = {channel = ch, agent_id = '', group = '', status = 'new', success_codes = '[]'}
  local qgroup, inq, gm, g_agent = nil, nil, nil, ''
  local function episode(t, pro)
    x.st_t0, x.st_fi, x.st_fr, x.st_ar, x.st_w = string.format('%d', t), nil, nil, nil, nil
    x.st_pro = pro and '1' or nil
    x.status, x.success_codes = 'new', '[]'
  end
  local function waited(t, aid, grp)
    if inq then
      local w = math.max(0, t - inq)
      st_add(P, t, {ch, aid, grp or '', ''}, {[ST.qwait_sum] = w, [ST.qwait_n] = 1,
        [ST.qwait_max] = w})
    end
    inq, qgroup = nil, nil
  end
  local function goal_tuple()
    local tup = st_tuple(x)
    if tup[2] == '' then tup[2] = g_agent end
    return tup
  end
  for _, e in ipairs(ev) do
    local t, j = e.t, e.tl
    if e.m == 'in' then
      local ms = string.format('%d', t)
      x.st_fi = x.st_fi or ms
      x.st_w = x.st_w or ms
      st_add(P, t, st_tuple(x), {[ST.msg_in] = 1})
    elseif e.m == 'out' then
      local d = {[ST.msg_out] = 1}
      if x.st_w then st_resp(d, math.max(0, t - tonumber(x.st_w))); x.st_w = nil end
      if x.st_fi and not x.st_fr then x.st_fr = string.format('%d', t) end
      x.st_ar = '1'
      st_add(P, t, st_tuple(x), d)
    elseif j.kind == 'created' or j.kind == 'reopened' then
      local pro = j.origin == 'agent'
      episode(t, pro)
      x.agent_id = ''
      if j.kind == 'created' then st_add(P, t, {ch, '', '', ''}, {[ST.new] = 1}) end
      local aid = pro and by_agent(j.by)
      if aid then x.agent_id, inq = aid, nil else inq = t end
      qgroup = nil
    elseif j.kind == 'assigned' then
      local aid = agent_id(j.agent) or ''
      waited(t, aid, str(j.group))
      x.agent_id, x.group, x.status = aid, str(j.group), 'active'
    elseif j.kind == 'taken' then
      local aid = agent_id(j.agent) or ''
      local grp = qgroup or ''
      waited(t, aid, grp)
      x.agent_id, x.group, x.status = aid, grp, 'active'
    elseif j.kind == 'transferred' then
      st_add(P, t, st_tuple(x), {[ST.transfers] = 1})
      local to = agent_id(j.to)
      if to then
        waited(t, to, '')
        x.agent_id, x.group = to, ''
      else
        x.agent_id = ''
        if str(j.group) ~= '' then x.group, qgroup = j.group, j.group else qgroup = nil end
        inq = t
      end
    elseif j.kind == 'auto_forwarded' then
      st_add(P, t, st_tuple(x), {[ST.auto_forwards] = 1})
      x.agent_id, x.group = agent_id(j.to) or '', str(j.group)
    elseif j.kind == 'returned' then
      x.agent_id, inq, qgroup = '', t, nil
    elseif j.kind == 'closed' then
      x.status = 'closed'
      x.success_codes = cjson.encode(type(j.success_codes) == 'table' and j.success_codes or {})
      if x.success_codes == '{}' then x.success_codes = '[]' end
      st_close(P, x, t)
      -- a close counts for the goal when one was measured, or (not
      -- measured) when the channel has a goal now (what it had then is not
      -- stored)
      if (gm and gm ~= 'none') or (not gm and goal_of(P, ch)) then
        st_add(P, t, goal_tuple(), {[ST.goals_closed] = 1})
      end
      inq, qgroup = nil, nil
    elseif j.kind == 'goal' then
      if j.reason == 'reopened' then
        gm = nil
      elseif j.status == 'in_process' then
        gm, g_agent = 'in_process', by_agent(j.by) or ''
      elseif j.status == 'achieved' then
        gm = 'achieved'
        st_add(P, t, goal_tuple(), {[ST.goals_achieved] = 1})
      elseif j.status then
        gm = j.status
      end
    end
  end
end

if op == 'rebuild_sessions' then
  local start, cnt = tonumber(ARGV[3]), tonumber(ARGV[4])
  local ids = redis.call('ZRANGE', k(P, 'idx', 'all'), start, start + cnt - 1)
  for _, sid in ipairs(ids) do rebuild_session(sid) end
  return {'ok', #ids < cnt and -1 or start + cnt, #ids}
elseif op == 'rebuild_presence' then
  local start, cnt = tonumber(ARGV[3]), tonumber(ARGV[4])
  local items = redis.call('ZRANGE', P .. ':st:pres', start, start + cnt - 1)
  for _, it in ipairs(items) do
    local aid, state, a, b = it:match('^(.*)|(%a+)|(%d+)|(%d+)$')
    local idx = ST[state or '']
    if idx then
      a, b = tonumber(a), tonumber(b)
      local t = math.max(a, b - ST_PRES_MAX_MS)
      while t < b do
        local e = math.min(b, (math.floor(t / 3600000) + 1) * 3600000)
        st_add(P, t, {'', aid, '', ''}, {[idx] = e - t})
        t = e
      end
    end
  end
  return {'ok', #items < cnt and -1 or start + cnt, #items}
end
return {'err', 'internal', 'stats.lua: unknown op ' .. tostring(op)}
