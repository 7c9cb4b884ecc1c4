-- stats.lua: statistics (og_stats.h), the steps of og_stats.c. The facts
-- are counted by the scripts that change them (the prelude's st_*), which
-- append them to P:st:pending; this script applies them, reads the
-- counters, rebuilds them, and keeps the report links.
-- ARGV[1] = P, ARGV[2] = op:
--   "apply" [3] at most this many facts -> {'ok', facts applied, facts still
--           pending}: the oldest pending facts taken off P:st:pending and
--           applied (the prelude's st_apply) in this one step, so each is
--           applied once whoever calls it and however many call it at once
--   "read"  [3] '1' to include agents and groups, [4] 'days' to read the hour
--           totals (prelude.lua, Statistics) of [5] a code or '', [6..] UTC
--           days, each {its totals as one string "field\0value\0...", {hour,
--           its hour key joined so, ...} for hours without totals} (anything
--           else: none) -> {'ok', {agent id, presence, since ms, ...},
--           {group...}, ...} (agents and groups empty when [3] ~= '1'); the
--           tuples of hour and day keys og_stats.c reads itself (HGETALL,
--           HSCAN MATCH), so Redis answers them without Lua strings
--   "queue" [3] first UTC day, [4] days -> {'ok', the hour of the last change of
--           the number waiting or '', {since ms, channel, group, ...} of the
--           sessions waiting now, {HGETALL of P:st:q:<day>}...}
--   "rebuild_sessions" [3] start rank in P:idx:all, [4] count -> {'ok', next rank
--           or -1, sessions done}: adds each session's facts to the hourly
--           counters again, from what is stored (og_stats_rebuild deleted them)
--   "rebuild_record" [3] an archived session's record -> {'ok', 1}: counted as
--           rebuild_sessions counts a live one (og_archive_each feeds it)
--   "rebuild_queue" [3] start rank in P:st:rbq, [4] count -> {'ok', next rank
--           or -1, events done}: the most waiting at once per hour, from the
--           waits rebuild_sessions logged in P:st:rbq (deleted at the end)
--   "rebuild_presence" [3] start rank in P:st:pres, [4] count -> {'ok', next
--           rank or -1, intervals done}
--   "conv"  [3] after (a session id, exclusive; '' = from [4]), [4] lowest id,
--           [5] id above the last, [6] count -> {'ok', last id or '', {fields}...}:
--           sessions created in a period (their ids sort by time), each
--           {id, channel, contact id, contact name, agent id, group, status,
--           created_at, first_reply_at, closed_at, close_reason, success_codes,
--           csat, goal status, goal event, messages in, messages out}
--   "pres"  [3] from ms, [4] to ms, [5] offset, [6] count -> {'ok', member...}:
--           logged presence pieces starting from a day before from up to to
--   "link_put" [3] id, [4] sha, [5] report, [6] filters JSON, [7] by, [8] now_iso
--   "link_list" -> {'ok', {id, report, filters, created_at, created_by, uses,
--           last_used_at}...} (revoked ones left out)
--   "link_del" [3] id, [4] now_iso -> {'ok'} | err not_found
--   "link_use" [3] sha, [4] now_ms, [5] now_iso, [6] client address, [7] uses
--           allowed per hour -> {'ok', id, report, filters} | err not_found |
--           err rate_limited; every use (allowed or refused) is logged
local P, op = ARGV[1], ARGV[2]

if op == 'apply' then
  local key = P .. ':st:pending'
  local facts = redis.call('LRANGE', key, 0, tonumber(ARGV[3]) - 1)
  if #facts == 0 then return {'ok', 0, 0} end
  redis.call('LTRIM', key, #facts, -1)
  st_apply(P, facts)
  return {'ok', #facts, redis.call('LLEN', key)}
end

-- The rebuild counts through the same st_* as the live scripts, but applies
-- its facts itself at the end of each step (og_stats_rebuild deleted the
-- pending ones: the rebuild counts what they counted).
if op:sub(1, 8) == 'rebuild_' then ST_DIRECT.on = true end

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
  local mode = ARGV[4]
  if mode == 'days' then
    -- the hour totals of UTC days [6..] (of code [5] when not ''); an hour
    -- before P:st:tv without them is read whole (written by an older version)
    local sfx = ARGV[5] ~= '' and (':' .. ARGV[5]) or ''
    local tv = tonumber(redis.call('GET', P .. ':st:tv') or '') or math.huge
    for i = 6, #ARGV do
      local day = tonumber(ARGV[i])
      local t = redis.call('HGETALL', P .. ':st:t:' .. ARGV[i] .. sfx)
      local legacy = {}
      if day * 24 < tv then
        local have = {}
        for j = 1, #t, 2 do have[t[j]] = true end
        for h = 0, 23 do
          local hk = P .. ':st:h:' .. string.format('%d', day * 24 + h) .. sfx
          if day * 24 + h < tv and not have[tostring(h)] and redis.call('EXISTS', hk) == 1 then
            legacy[#legacy + 1] = string.format('%d', day * 24 + h)
            legacy[#legacy + 1] = table.concat(redis.call('HGETALL', hk), '\0')
          end
        end
      end
      out[#out + 1] = {table.concat(t, '\0'), legacy}
    end
    return out
  end
  return out
end

if op == 'queue' then
  -- the queue over time of UTC days [3] .. [3] + [4] - 1 (prelude.lua, "The
  -- queue over time")
  local d0, n = tonumber(ARGV[3]), tonumber(ARGV[4])
  local waiting = {}
  local w = redis.call('ZRANGE', P .. ':st:qw', 0, -1, 'WITHSCORES')
  for i = 1, #w, 2 do
    local h = redis.call('HMGET', k(P, 'ses', w[i]), 'channel', 'queue_group')
    waiting[#waiting + 1] = w[i + 1]
    waiting[#waiting + 1] = h[1] or ''
    waiting[#waiting + 1] = h[2] or ''
  end
  local out = {'ok', redis.call('GET', P .. ':st:qh') or '', waiting}
  for i = 0, n - 1 do
    out[#out + 1] = redis.call('HGETALL', P .. ':st:q:' .. string.format('%d', d0 + i))
  end
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
  for i, e in ipairs((tl_range(P, sid, 0, -1))) do
    local j = cjson.decode(e)
    ev[#ev + 1] = {t = ms_of_iso(j.at) or 0, o = i, tl = j}
  end
  local ntl = #ev
  -- a survey answered by a message (ingest's rating): that message is the
  -- csat entry's moment, and no customer message for the statistics
  local rated_at = {}
  for _, e in ipairs(ev) do
    if e.tl.kind == 'csat' and e.tl.by and e.tl.by.type == 'contact' then rated_at[e.t] = true end
  end
  for i, mid in ipairs(msgs_call(P, sid, 'ZRANGE', 0, -1)) do
    local m = redis.call('HMGET', k(P, 'msg', mid), 'dir', 'j')
    local kind = 'in'
    if m[1] == 'out' then
      kind = (m[2] and m[2]:find('"sender":{"type":"system"', 1, true)) and nil or 'out'
    end
    local t = id_ms(mid)
    if kind == 'in' and rated_at[t] then
      kind, rated_at[t] = nil, nil
    end
    if kind then ev[#ev + 1] = {t = t, o = ntl + i, m = kind} end
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
  -- the queue over time: each wait's time, and its start and end for
  -- rebuild_queue's count of the most waiting at once (an end sorts before
  -- a start at the same ms)
  local nq = 0
  local function qev(t, start)
    nq = nq + 1
    redis.call('ZADD', P .. ':st:rbq', t, table.concat({start and '1' or '0', sid,
      string.format('%d', nq)}, '|'))
  end
  local function enter(t)
    inq = t
    qev(t, true)
  end
  local function leave(t)
    if inq then
      st_q_wait(P, ch, qgroup or '', inq, t)
      qev(t, false)
    end
  end
  local function waited(t, aid, grp)
    if inq then
      local w = math.max(0, t - inq)
      st_add(P, t, {ch, aid, grp or '', ''}, {[ST.qwait_sum] = w, [ST.qwait_n] = 1,
        [ST.qwait_max] = w})
      leave(t)
    end
    inq, qgroup = nil, nil
  end
  local function goal_tuple()
    local tup = st_tuple(x)
    if tup[2] == '' then tup[2] = g_agent end
    return tup
  end
  local nin, nout = 0, 0
  for _, e in ipairs(ev) do
    local t, j = e.t, e.tl
    if e.m == 'in' then
      nin = nin + 1
      local ms = string.format('%d', t)
      x.st_fi = x.st_fi or ms
      x.st_w = x.st_w or ms
      st_add(P, t, st_tuple(x), {[ST.msg_in] = 1})
    elseif e.m == 'out' then
      nout = nout + 1
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
      if aid then x.agent_id, inq = aid, nil else enter(t) end
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
        leave(t) -- a waiting session's wait restarts
        if str(j.group) ~= '' then x.group, qgroup = j.group, j.group else qgroup = nil end
        enter(t)
      end
    elseif j.kind == 'auto_forwarded' then
      st_add(P, t, st_tuple(x), {[ST.auto_forwards] = 1})
      x.agent_id, x.group = agent_id(j.to) or '', str(j.group)
    elseif j.kind == 'returned' then
      x.agent_id, qgroup = '', nil
      enter(t)
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
      leave(t)
      inq, qgroup = nil, nil
    elseif j.kind == 'csat' then
      st_csat(P, x, j.score, j.scale, t)
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
  st_first_write(k(P, 'ses', sid)) -- st_fi and st_w stay as they were
  redis.call('HSET', k(P, 'ses', sid), 'st_nin', nin, 'st_nout', nout)
end

if op == 'rebuild_record' then
  -- [3] an archived session's record (og_archive.h): its keys are written,
  -- counted as rebuild_sessions counts a live one, and deleted again, in
  -- this one step, so no other client ever sees them
  local rec = cjson.decode(ARGV[3])
  local written = record_write(P, rec, true)
  rebuild_session(rec.sid)
  if #written > 0 then redis.call('DEL', unpack(written)) end
  st_apply(P, ST_DIRECT.buf)
  return {'ok', 1}
elseif op == 'rebuild_sessions' then
  local start, cnt = tonumber(ARGV[3]), tonumber(ARGV[4])
  local ids = redis.call('ZRANGE', k(P, 'idx', 'all'), start, start + cnt - 1)
  for _, sid in ipairs(ids) do rebuild_session(sid) end
  st_apply(P, ST_DIRECT.buf)
  return {'ok', #ids < cnt and -1 or start + cnt, #ids}
elseif op == 'rebuild_presence' then
  local start, cnt = tonumber(ARGV[3]), tonumber(ARGV[4])
  local items = redis.call('ZRANGE', P .. ':st:pres', start, start + cnt - 1)
  for _, it in ipairs(items) do
    local aid, state, a, b = it:match('^(.*)|(%a+)|(%d+)|(%d+)$')
    local idx = ST[state or '']
    if idx then st_span(P, aid, idx, tonumber(a), tonumber(b)) end
  end
  st_apply(P, ST_DIRECT.buf)
  return {'ok', #items < cnt and -1 or start + cnt, #items}
elseif op == 'rebuild_queue' then
  -- the waits' starts and ends that rebuild_sessions logged, in time order:
  -- the most waiting at once per hour, as st_q_enter / st_q_leave count it
  local start, cnt = tonumber(ARGV[3]), tonumber(ARGV[4])
  local nk = P .. ':st:rbqn'
  if start == 0 then redis.call('DEL', P .. ':st:qh', nk) end
  local n = tonumber(redis.call('GET', nk) or '') or 0
  local ev = redis.call('ZRANGE', P .. ':st:rbq', start, start + cnt - 1, 'WITHSCORES')
  for i = 1, #ev, 2 do
    local t = tonumber(ev[i + 1])
    local n2 = ev[i]:sub(1, 1) == '1' and n + 1 or math.max(0, n - 1)
    st_q_level(P, n, n2, t)
    n = n2
  end
  st_apply(P, ST_DIRECT.buf)
  if #ev < 2 * cnt then
    redis.call('DEL', P .. ':st:rbq', nk)
    return {'ok', -1, #ev / 2}
  end
  redis.call('SET', nk, n)
  return {'ok', start + cnt, #ev / 2}
end
if op == 'conv' then
  local lo = ARGV[3] ~= '' and ('(' .. ARGV[3]) or ('[' .. ARGV[4])
  local ids = redis.call('ZRANGEBYLEX', k(P, 'idx', 'all'), lo, '(' .. ARGV[5], 'LIMIT', 0,
    tonumber(ARGV[6]))
  local out = {'ok', ids[#ids] or ''}
  for _, sid in ipairs(ids) do
    local s = redis.call('HMGET', k(P, 'ses', sid), 'id', 'channel', 'contact_id', 'agent_id',
      'group', 'status', 'created_at', 'first_reply_at', 'closed_at', 'close_reason',
      'success_codes', 'csat', 'g_st', 'g_ev', 'st_nin', 'st_nout', 'm0')
    if s[1] then
      if not s[15] and s[17] then s[15] = '1' end -- implied (prelude.lua st_first)
      local name = redis.call('HGET', k(P, 'con', s[3] or ''), 'name') or ''
      out[#out + 1] = {s[1], s[2] or '', s[3] or '', name, s[4] or '', s[5] or '', s[6] or '',
        s[7] or '', s[8] or '', s[9] or '', s[10] or '', s[11] or '[]', s[12] or '',
        s[13] or '', s[14] or '', s[15] or '0', s[16] or '0'}
    elseif redis.call('HEXISTS', k(P, 'arch', 'loc'), sid) == 1 then
      out[#out + 1] = {'archived', sid} -- og_export.c reads its record (og_archive.h)
    end
  end
  return out
elseif op == 'pres' then
  local from, to = tonumber(ARGV[3]), tonumber(ARGV[4])
  local items = redis.call('ZRANGEBYSCORE', P .. ':st:pres', from - 86400000, '(' .. to, 'LIMIT',
    tonumber(ARGV[5]), tonumber(ARGV[6]))
  table.insert(items, 1, 'ok')
  return items
elseif op == 'link_put' then
  local id = ARGV[3]
  redis.call('HSET', k(P, 'rl', id), 'id', id, 'sha', ARGV[4], 'report', ARGV[5], 'filters',
    ARGV[6], 'created_by', ARGV[7], 'created_at', ARGV[8], 'uses', 0)
  redis.call('SET', k(P, 'rl', 'sha', ARGV[4]), id)
  redis.call('ZADD', k(P, 'rls'), 0, id)
  return {'ok'}
elseif op == 'link_list' then
  local out = {'ok'}
  for _, id in ipairs(redis.call('ZRANGE', k(P, 'rls'), 0, -1)) do
    local h = redis.call('HMGET', k(P, 'rl', id), 'report', 'filters', 'created_at',
      'created_by', 'uses', 'last_used_at')
    out[#out + 1] = {id, h[1] or '', h[2] or '{}', h[3] or '', h[4] or '', h[5] or '0', h[6] or ''}
  end
  return out
elseif op == 'link_del' then
  local lk = k(P, 'rl', ARGV[3])
  local sha = redis.call('HGET', lk, 'sha')
  if not sha or redis.call('ZREM', k(P, 'rls'), ARGV[3]) == 0 then
    return {'err', 'not_found', 'no such report link'}
  end
  redis.call('DEL', k(P, 'rl', 'sha', sha))
  redis.call('HSET', lk, 'revoked_at', ARGV[4])
  return {'ok'}
elseif op == 'link_use' then
  local id = redis.call('GET', k(P, 'rl', 'sha', ARGV[3]))
  if not id then return {'err', 'not_found', 'unknown or revoked report link'} end
  local lk = k(P, 'rl', id)
  local now_ms = tonumber(ARGV[4])
  local rk = k(P, 'rl', id, 'rate', string.format('%d', math.floor(now_ms / 3600000)))
  local n = redis.call('INCR', rk)
  if n == 1 then redis.call('EXPIRE', rk, 7200) end
  local ok = n <= tonumber(ARGV[7])
  local uk = k(P, 'rl', id, 'uses')
  redis.call('LPUSH', uk, table.concat({'{"at":"', ARGV[5], '","ip":', js(ARGV[6]),
    ',"allowed":', ok and 'true' or 'false', '}'}))
  redis.call('LTRIM', uk, 0, 999)
  if not ok then return {'err', 'rate_limited', 'this link was used too often this hour'} end
  redis.call('HINCRBY', lk, 'uses', 1)
  redis.call('HSET', lk, 'last_used_at', ARGV[5])
  local h = redis.call('HMGET', lk, 'report', 'filters')
  return {'ok', id, h[1], h[2]}
end
return {'err', 'internal', 'stats.lua: unknown op ' .. tostring(op)}
