-- sessions.lua: sessions as the people who work them see them (core/og_sessions.c):
-- who may see or act on a session, one session, the filtered list, the
-- history, read markers. Rendered with the prelude's JSON renderers so the
-- API and the events show one shape. Read-only except an agent's read marker.
--
-- ARGV[1] = P, [2] = op, then the viewer: [3] agent id ('' = the config's
-- admin token), [4] '1' when the viewer is restricted (role agent: sees its
-- own sessions and the queue of its groups), [5] its groups (JSON array),
-- [6] which groups see each policy's queue ("pol=g1,g2;pol2=*"); then:
--   "check"    [7] session id, [8] 'see' | 'act'
--              -> {'ok'} | err not_found (not visible) | err forbidden (act:
--              a restricted viewer acts only on sessions assigned to it)
--   "session"  [7] id -> {'ok', json} (with "unread" when the viewer is an
--              agent) | err not_found
--   "sessions" [7] status, [8] channel, [9] cursor, [10] limit, [11] agent_id,
--              [12] group, [13] from id bound, [14] to id bound (lex bounds
--              on the time-sorted ids, '' = open), [15] success code, [16] q
--              (lowercase text) -> {'ok', next_cursor or '', id, unread, id, unread...}
--              (newest first; unread '' unless the viewer is an agent): C renders
--              the sessions from their hashes (og_render.h), off Redis's thread
--   "messages" [7] session id, [8] cursor, [9] limit, [10] now_iso, [11] event id
--              (session.read when an agent's read marker moves)
--              -> {'ok', next_cursor or '', id...} (oldest first; C renders the
--              messages from their hashes, og_render.h) | err not_found; an agent
--              viewer's read marker moves to the newest message in the same step
--   "timeline" [7] session id, [8] cursor (the index of the next entry, '' =
--              0), [9] limit -> {'ok', next_cursor or '', entry...} (oldest
--              first) | err not_found
--   "flagged"  [7] cursor (a message id, '' = the newest), [8] limit, [9]
--              direction ('in' | 'out' | ''), [10] channel ('' = any)
--              -> {'ok', next_cursor or '', {"message","session"}...} (newest
--              first; for unrestricted viewers: og_sessions.c checks the role)
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]
local viewer, restricted = ARGV[3] or '', ARGV[4] == '1'
local vgroups, polgroups = {}, {}
if restricted then
  for _, g in ipairs(cjson.decode(ARGV[5] or '[]')) do vgroups[g] = true end
  for pol, gs in string.gmatch(ARGV[6] or '', '([^=;]+)=([^;]*)') do
    local t = {}
    for g in string.gmatch(gs, '[^,]+') do t[#t + 1] = g end
    polgroups[pol] = t
  end
end

-- The access rule: a restricted viewer sees the sessions assigned to it and
-- those waiting in the queue for one of its groups (transferred to the
-- group, or queued under a policy whose levels name it; every agent for a
-- policy with all agents, such as the implicit default).
local function visible(s)
  if not restricted then return true end
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

local function no_session() return {'err', 'not_found', 'no such session'} end

-- Customer messages after the agent's read marker (counted up to 100).
local function unread(sid, viewer)
  local mark = redis.call('HGET', k(P, 'agent', viewer, 'read'), sid)
  local min = mark and ('(' .. mark) or '-'
  local n = 0
  local ids = msgs_call(P, sid, 'ZRANGEBYLEX', min, '+', 'LIMIT', 0, 100)
  for _, mid in ipairs(ids) do
    -- a compact one (m) is a customer's (msg_pack)
    local m = redis.call('HMGET', k(P, 'msg', mid), 'j', 'm')
    if m[2] or (m[1] and string.find(m[1], '"direction":"in"', 1, true)) then n = n + 1 end
  end
  return n
end
local function with_unread(sj, sid, viewer)
  if not sj or viewer == nil or viewer == '' then return sj end
  return sj:sub(1, -2) .. ',"unread":' .. unread(sid, viewer) .. '}'
end

if op == 'check' then
  local s = hgetall(k(P, 'ses', ARGV[7]))
  if not s.id or not visible(s) then return no_session() end
  if ARGV[8] == 'act' and restricted and s.agent_id ~= viewer then
    return {'err', 'forbidden', 'only the assigned agent or a manager may do this'}
  end
  return {'ok'}
elseif op == 'session' then
  local s = hgetall(k(P, 'ses', ARGV[7]))
  if not s.id or not visible(s) then return no_session() end
  return {'ok', with_unread(session_render(P, s), ARGV[7], viewer)}
elseif op == 'sessions' then
  local status, chan, cursor, limit = ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10])
  local f_agent, f_group, f_from, f_to = ARGV[11], ARGV[12], ARGV[13], ARGV[14]
  local f_code, f_q = ARGV[15], ARGV[16]
  local base
  if f_agent ~= '' then base = k(P, 'idx', 'agent', f_agent)
  elseif status ~= '' then base = k(P, 'idx', 'st', status)
  elseif f_group ~= '' then base = k(P, 'idx', 'group', f_group)
  else base = k(P, 'idx', 'all') end
  -- a channel filters (#22: no index per channel, ~140 bytes a session;
  -- the scan below is bounded, and its cursor goes on where it stopped)
  local simple = (f_agent == '' and f_group == '' and f_code == '' and f_q == '' and not restricted)
  local need_chan = chan ~= ''

  local function text_hit(s, id)
    local c = redis.call('HGET', k(P, 'con', s.contact_id or ''), 'name')
    if c and string.find(string.lower(c), f_q, 1, true) then return true end
    for _, mid in ipairs(msgs_call(P, id, 'ZRANGE', 0, 199)) do
      local j = msg_j(P, mid)
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
    if not visible(s) then return false end
    if f_q ~= '' and not text_hit(s, id) then return false end
    return true
  end

  local out, n = {'ok', ''}, 0
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
        n = n + 1
        out[#out + 1] = id
        out[#out + 1] = viewer ~= '' and tostring(unread(id, viewer)) or ''
      end
      last = id
      if n == limit or budget == 0 then break end
    end
    if n == limit then break end
    max = '(' .. last
  end
  if last and (n == limit or budget == 0) then
    -- more may follow: only when something is left after 'last'
    if #redis.call('ZREVRANGEBYLEX', base, '(' .. last, min, 'LIMIT', 0, 1) > 0 then
      out[2] = last
    end
  end
  return out
elseif op == 'messages' then
  local sid, cursor, limit = ARGV[7], ARGV[8], tonumber(ARGV[9])
  local s = hgetall(k(P, 'ses', sid))
  if not s.id or not visible(s) then return no_session() end
  local min = cursor ~= '' and ('(' .. cursor) or '-'
  local ids = msgs_call(P, sid, 'ZRANGEBYLEX', min, '+', 'LIMIT', 0, limit + 1)
  local out = {'ok', ''}
  for i = 1, math.min(#ids, limit) do out[#out + 1] = ids[i] end
  if #ids > limit then out[2] = ids[limit] end
  if viewer ~= '' then
    -- the agent has now seen the conversation: unread drops to 0, and when
    -- that is news, session.read tells the customer's side (the web chat's
    -- read receipts)
    local last = msgs_call(P, sid, 'ZRANGE', -1, -1)
    local rk = k(P, 'agent', viewer, 'read')
    if last[1] and redis.call('HGET', rk, sid) ~= last[1] then
      redis.call('HSET', rk, sid, last[1])
      if ARGV[11] and ARGV[11] ~= '' then
        emit(P, ARGV[11], 'session.read', sid, ARGV[10], table.concat({'{"session_id":"', sid,
          '","until":"', last[1], '","agent":{"id":', q(viewer), ',"name":',
          js(redis.call('HGET', k(P, 'agent', viewer), 'name')), '},"session":',
          session_render(P, s), '}'}))
      end
    end
  end
  return out
elseif op == 'timeline' then
  local sid, from, limit = ARGV[7], tonumber(ARGV[8]) or 0, tonumber(ARGV[9])
  local s = hgetall(k(P, 'ses', sid))
  if not s.id or not visible(s) then return no_session() end
  local out = {'ok', ''}
  local items, n = tl_range(P, sid, from, from + limit - 1)
  for _, e in ipairs(items) do out[#out + 1] = e end
  if n > from + limit then out[2] = tostring(from + limit) end
  return out
elseif op == 'flagged' then
  local cursor, limit, dir, chan = ARGV[7], tonumber(ARGV[8]), ARGV[9], ARGV[10]
  local fk = k(P, 'flagged')
  local out = {'ok', ''}
  local max = cursor ~= '' and ('(' .. cursor) or '+'
  -- a bounded scan per call (filters may skip many); the cursor says where
  -- it stopped
  local budget, last = math.max(limit * 10, 1000), nil
  while budget > 0 and #out - 2 < limit do
    local ids = redis.call('ZREVRANGEBYLEX', fk, max, '-', 'LIMIT', 0, 200)
    if #ids == 0 then last = nil; break end
    for _, mid in ipairs(ids) do
      budget = budget - 1
      last = mid
      local m = redis.call('HMGET', k(P, 'msg', mid), 'j', 'sid', 'm')
      local j = msg_j_of(mid, m[1], m[3], m[2])
      local s = j and hgetall(k(P, 'ses', m[2] or ''))
      if s and s.id and (dir == '' or string.find(j, '"direction":"' .. dir .. '"', 1, true))
         and (chan == '' or s.channel == chan) then
        out[#out + 1] = '{"message":' .. message_json(P, mid) .. ',"session":' ..
          session_render(P, s) .. '}'
      end
      if #out - 2 == limit or budget == 0 then break end
    end
    max = '(' .. last
  end
  if last and #redis.call('ZREVRANGEBYLEX', fk, '(' .. last, '-', 'LIMIT', 0, 1) > 0 then
    out[2] = last
  end
  return out
end
return {'err', 'internal', 'sessions.lua: unknown op ' .. tostring(op)}
