-- read.lua: the read API's queries, rendered with the prelude's JSON
-- renderers so the API and the events show one shape. Read-only except
-- "mark_read" (an agent's read marker).
-- ARGV[1] = P, ARGV[2] = op:
--   "session"  ARGV[3] = id, [4] = viewer agent id ('' = none)
--              -> json or nil (with "unread" when a viewer is given)
--   "sessions" ARGV[3] = status, [4] = channel, [5] = cursor, [6] = limit,
--              [7] agent_id, [8] group, [9] from id bound, [10] to id bound
--              (lex bounds on the time-sorted ids, '' = open), [11] success
--              code, [12] q (lowercase text), [13] viewer agent id ('' =
--              sees everything), [14] viewer groups JSON array, [15] policy
--              groups "pol=g1,g2;pol2=*" (which groups see a policy's queue)
--              -> {next_cursor or '', json...}   (newest first)
--   "messages" ARGV[3] = session id, [4] = cursor, [5] = limit
--              -> {next_cursor or '', json...}   (oldest first), or nil if no session
--   "mark_read" ARGV[3] = session id, [4] = agent id: the agent has read
--              everything so far (P:agent:<id>:read hash, session -> last message id)
--   "auth"     ARGV[3] = token sha -> {id, role, groups JSON, allowed_ips JSON} | nil
local P, op = ARGV[1], ARGV[2]

-- Customer messages after the agent's read marker (counted up to 100).
local function unread(sid, viewer)
  local mark = redis.call('HGET', k(P, 'agent', viewer, 'read'), sid)
  local min = mark and ('(' .. mark) or '-'
  local n = 0
  local ids = redis.call('ZRANGEBYLEX', k(P, 'ses', sid, 'msgs'), min, '+', 'LIMIT', 0, 100)
  for _, mid in ipairs(ids) do
    local j = redis.call('HGET', k(P, 'msg', mid), 'j')
    if j and string.find(j, '"direction":"in"', 1, true) then n = n + 1 end
  end
  return n
end
local function with_unread(sj, sid, viewer)
  if not sj or viewer == nil or viewer == '' then return sj end
  return sj:sub(1, -2) .. ',"unread":' .. unread(sid, viewer) .. '}'
end

if op == 'session' then
  return with_unread(session_json(P, ARGV[3]), ARGV[3], ARGV[4])
elseif op == 'sessions' then
  local status, chan, cursor, limit = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
  local f_agent, f_group, f_from, f_to = ARGV[7] or '', ARGV[8] or '', ARGV[9] or '', ARGV[10] or ''
  local f_code, f_q, viewer = ARGV[11] or '', ARGV[12] or '', ARGV[13] or ''
  local vgroups, polgroups = {}, {}
  if viewer ~= '' then
    for _, g in ipairs(cjson.decode(ARGV[14] or '[]')) do vgroups[g] = true end
    for pol, gs in string.gmatch(ARGV[15] or '', '([^=;]+)=([^;]*)') do
      local t = {}
      for g in string.gmatch(gs, '[^,]+') do t[#t + 1] = g end
      polgroups[pol] = t
    end
  end
  local base
  if f_agent ~= '' then base = k(P, 'idx', 'agent', f_agent)
  elseif status ~= '' then base = k(P, 'idx', 'st', status)
  elseif f_group ~= '' then base = k(P, 'idx', 'group', f_group)
  elseif chan ~= '' then base = k(P, 'idx', 'ch', chan)
  else base = k(P, 'idx', 'all') end
  local simple = (f_agent == '' and f_group == '' and f_code == '' and f_q == '' and viewer == '')
  local need_chan = (status ~= '' and chan ~= '')

  local function visible(s)
    if s.agent_id == viewer then return true end
    if s.status ~= 'new' and s.status ~= 'transferred' then return false end
    if s.agent_id and s.agent_id ~= '' then return false end
    if s.queue_group and s.queue_group ~= '' then return vgroups[s.queue_group] == true end
    local gs = polgroups[s.routing or 'default'] or polgroups['default'] or {}
    for _, g in ipairs(gs) do
      if g == '*' or vgroups[g] then return true end
    end
    return false
  end
  local function text_hit(s, id)
    local c = redis.call('HGET', k(P, 'con', s.contact_id or ''), 'name')
    if c and string.find(string.lower(c), f_q, 1, true) then return true end
    for _, mid in ipairs(redis.call('ZRANGE', k(P, 'ses', id, 'msgs'), 0, 199)) do
      local j = redis.call('HGET', k(P, 'msg', mid), 'j')
      if j then
        local ok, m = pcall(cjson.decode, j .. '}')
        if ok and type(m.text) == 'string' and string.find(string.lower(m.text), f_q, 1, true) then
          return true
        end
      end
    end
    return false
  end
  local function match(id)
    if simple then
      return not need_chan or redis.call('HGET', k(P, 'ses', id), 'channel') == chan
    end
    local s = hgetall(k(P, 'ses', id))
    if not s.id then return false end
    if status ~= '' and s.status ~= status then return false end
    if chan ~= '' and s.channel ~= chan then return false end
    if f_group ~= '' and s.group ~= f_group then return false end
    if f_agent ~= '' and s.agent_id ~= f_agent then return false end
    if f_code ~= '' and not string.find(s.success_codes or '', cjson.encode(f_code), 1, true) then
      return false
    end
    if viewer ~= '' and not visible(s) then return false end
    if f_q ~= '' and not text_hit(s, id) then return false end
    return true
  end

  local out = {''}
  local max = cursor ~= '' and ('(' .. cursor) or '+'
  if f_to ~= '' and (max == '+' or f_to < cursor) then max = '[' .. f_to end
  local min = f_from ~= '' and ('[' .. f_from) or '-'
  -- Scan a bounded number of ids per call so a sparse filter cannot block
  -- Redis; the cursor then points where the scan stopped. A text search
  -- reads message history, so it scans fewer sessions per call.
  local budget, last = math.max(limit * 10, f_q ~= '' and 200 or 1000), nil
  while budget > 0 do
    local ids = redis.call('ZREVRANGEBYLEX', base, max, min, 'LIMIT', 0, 200)
    if #ids == 0 then last = nil; break end
    for _, id in ipairs(ids) do
      budget = budget - 1
      if match(id) then
        out[#out + 1] = with_unread(session_json(P, id), id, viewer)
      end
      last = id
      if #out - 1 == limit or budget == 0 then break end
    end
    if #out - 1 == limit then break end
    max = '(' .. last
  end
  if last and (#out - 1 == limit or budget == 0) then
    -- more may follow: only when something is left after 'last'
    if #redis.call('ZREVRANGEBYLEX', base, '(' .. last, min, 'LIMIT', 0, 1) > 0 then
      out[1] = last
    end
  end
  return out
elseif op == 'messages' then
  local sid, cursor, limit = ARGV[3], ARGV[4], tonumber(ARGV[5])
  if redis.call('EXISTS', k(P, 'ses', sid)) == 0 then return nil end
  local min = cursor ~= '' and ('(' .. cursor) or '-'
  local ids = redis.call('ZRANGEBYLEX', k(P, 'ses', sid, 'msgs'), min, '+', 'LIMIT', 0, limit + 1)
  local out = {''}
  for i = 1, math.min(#ids, limit) do out[#out + 1] = message_json(P, ids[i]) end
  if #ids > limit then out[1] = ids[limit] end
  return out
elseif op == 'mark_read' then
  local last = redis.call('ZRANGE', k(P, 'ses', ARGV[3], 'msgs'), -1, -1)
  if last[1] then redis.call('HSET', k(P, 'agent', ARGV[4], 'read'), ARGV[3], last[1]) end
  return 'OK'
elseif op == 'auth' then
  local id = redis.call('GET', k(P, 'agent_token', ARGV[3]))
  if not id then return nil end
  local a = redis.call('HMGET', k(P, 'agent', id), 'id', 'role', 'groups', 'allowed_ips')
  if not a[1] then return nil end
  return {a[1], a[2] or 'agent', a[3] or '[]', a[4] or '[]'}
end
return redis.error_reply('read.lua: unknown op')
