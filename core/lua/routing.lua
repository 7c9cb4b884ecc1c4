-- routing.lua: the routing engine's every state change, one atomic call each:
-- drain a policy's queue, take/assign, transfer, close, reopen, presence, and
-- firing due timers. Two omnigate instances may call any of these at the same
-- moment; because each op reads and writes inside one script, a session is
-- never assigned twice and an agent never goes over capacity.
--
-- ARGV[1] P, [2] op, [3] now_ms, [4] now_iso, [5] event id seed (evt_ + 26;
-- event ids of this call are the seed with its last three characters replaced
-- by a counter, so they stay unique and time-sorted), [6] random seed,
-- [7] policies JSON (og_routing.c: {"name":{"mode","levels":[{"name",
-- "method","members":["*"|"g:NAME"|"a:EMAIL"]}],"forwarding":{...}|absent,
-- "af_ms":N|absent,"af_avoid":bool}}), [8..] the op's arguments (below).
-- Returns {"ok", ...} or {"err", code, message}; code is one of not_found,
-- conflict, invalid, forbidden.
--
-- Agent load: P:agent:<id> fields chats / nrt count the open sessions in
-- P:agent:<id>:sessions (nrt = non-real-time sessions, e.g. e-mail); they change only together
-- with that set (release() checks SREM's answer), so they cannot drift.
local P, op, now_ms, now_iso, seed = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local rnd_state = tonumber(ARGV[6]) or 1
local policies = cjson.decode(ARGV[7])

local B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
local ecount = 0
local function eid()
  ecount = ecount + 1 -- three characters: a timers call may emit thousands
  local a, b, c = math.floor(ecount / 1024) % 32, math.floor(ecount / 32) % 32, ecount % 32
  return seed:sub(1, -4) .. B32:sub(a + 1, a + 1) .. B32:sub(b + 1, b + 1) ..
    B32:sub(c + 1, c + 1)
end
-- Redis seeds math.random the same way on every call, so randomness comes from C.
local function rnd(n)
  rnd_state = (rnd_state * 1103515245 + 12345) % 2147483648
  return (math.floor(rnd_state / 65536) % n) + 1
end

local function err(code, msg) return {'err', code, msg} end
local function policy(name)
  return policies[name or ''] or policies['default']
end
-- Non-real-time (e-mail-like) sessions: the connector declared
-- OG_CAP_NON_REALTIME, which ingest and outbox_reply store as nrt = '1'.
local function is_nrt(s) return s.nrt == '1' end
local function akey(aid) return k(P, 'agent', aid) end

-- Within one call, members and agent loads are read from Redis once and then
-- kept current in these tables (assign/release update them), so a drain of
-- many sessions costs one HMGET per agent, not one per agent per session.
local rcache, acache = {}, {}

-- Members of a level in a stable order: {id=, group=} (group: the group the
-- agent was found through, nil for "agent:" and "*").
local function resolve(level, ckey)
  if ckey and rcache[ckey] then return rcache[ckey] end
  local out, seen = {}, {}
  for _, m in ipairs(level.members) do
    local ids, grp = {}, nil
    if m == '*' then
      ids = redis.call('SMEMBERS', k(P, 'agents'))
    elseif m:sub(1, 2) == 'g:' then
      grp = m:sub(3)
      ids = redis.call('SMEMBERS', k(P, 'group', grp))
    else
      local id = redis.call('GET', k(P, 'agent_email', m:sub(3)))
      if id then ids = {id} end
    end
    table.sort(ids)
    for _, id in ipairs(ids) do
      if not seen[id] then
        seen[id] = true
        out[#out + 1] = {id = id, group = grp}
      end
    end
  end
  if ckey then rcache[ckey] = out end
  return out
end

-- Load and capacity of one agent for a session of this kind; nil when the
-- agent does not exist.
local function agent_raw(aid)
  local a = acache[aid]
  if a == nil then
    local h = redis.call('HMGET', akey(aid), 'id', 'presence', 'chats', 'nrt', 'max_chats',
      'max_nrt', 'last_ms')
    a = h[1] and {presence = h[2], chats = tonumber(h[3]) or 0, nrt = tonumber(h[4]) or 0,
                  max_chats = tonumber(h[5]), max_nrt = tonumber(h[6]),
                  last = tonumber(h[7]) or 0} or false
    acache[aid] = a
  end
  return a
end
local function agent_load(aid, nrt)
  local a = agent_raw(aid)
  if not a then return nil end
  local load = nrt and a.nrt or a.chats
  local max = nrt and a.max_nrt or a.max_chats
  return {presence = a.presence, load = load, max = max,
          space = max and (max - load) or 1e12, last = a.last}
end
-- Keeps the cache in step with a load change written to Redis.
local function cache_load(aid, nrt, delta)
  local a = acache[aid]
  if a then
    if nrt then a.nrt = a.nrt + delta else a.chats = a.chats + delta end
    if delta > 0 then a.last = now_ms end
  end
end
local function has_space(l) return l.max == nil or l.load < l.max end

-- Picks an online member with space by the level's method; nil when none.
-- exclude: an agent id never to pick (the current one, for auto-forward).
local function pick(pname, li, level, nrt, exclude)
  local method = level.method
  local listy = method == 'random' or method == 'sequential'
  -- scored inline (no table per candidate): this loop runs once per member
  -- per assignment, the hottest path of a drain
  local c, best, bl, bs, blast = {}, nil, 0, 0, 0
  for _, m in ipairs(resolve(level, pname .. '|' .. tostring(li))) do
    if m.id ~= exclude then
      local a = agent_raw(m.id)
      if a and a.presence == 'online' then
        local load = nrt and a.nrt or a.chats
        local max = nrt and a.max_nrt or a.max_chats
        if max == nil or load < max then
          if listy then
            c[#c + 1] = m
          else
            local space = max and (max - load) or 1e12
            local better
            if not best then better = true
            elseif method == 'most_chats' then
              better = load > bl or (load == bl and a.last < blast)
            elseif method == 'most_space' then
              better = space > bs or (space == bs and a.last < blast)
            else -- least_chats
              better = load < bl or (load == bl and a.last < blast)
            end
            if better then best, bl, bs, blast = m, load, space, a.last end
          end
        end
      end
    end
  end
  if not listy then return best end
  if #c == 0 then return nil end
  if method == 'random' then return c[rnd(#c)] end
  -- sequential: round robin over the members in id order, resuming after
  -- the last one this level assigned to (the cursor survives restarts and is
  -- shared by every instance)
  local ck = k(P, 'rr', pname, tostring(li))
  local cur = redis.call('GET', ck) or ''
  table.sort(c, function(x, y) return x.id < y.id end)
  best = c[1]
  for _, x in ipairs(c) do
    if x.id > cur then best = x; break end
  end
  redis.call('SET', ck, best.id)
  return best
end

local function sjson(sid) return session_json(P, sid) end

-- Frees the session's agent (capacity and open set) and its auto-forward timer.
local function release(sid, s)
  local aid = s.agent_id
  if aid and aid ~= '' then
    if redis.call('SREM', k(P, 'agent', aid, 'sessions'), sid) == 1 then
      redis.call('HINCRBY', akey(aid), is_nrt(s) and 'nrt' or 'chats', -1)
      cache_load(aid, is_nrt(s), -1)
    end
  end
  redis.call('ZREM', k(P, 'timers', 'autoforward'), sid)
end

-- Assigns sid to aid: capacity, indexes, status active, timer, events.
-- The caller has checked eligibility and released any previous agent.
local function assign(sid, s, aid, group, level_name, level_idx)
  local skey = k(P, 'ses', sid)
  agent_attach(P, sid, aid, is_nrt(s), now_ms)
  cache_load(aid, is_nrt(s), 1)
  -- statistics: the wait in the queue, when it came from there
  local qs = tonumber(redis.call('ZSCORE', k(P, 'queue', s.routing or 'default'), sid) or '')
  if qs then
    local w = math.max(0, now_ms - qs)
    st_add(P, now_ms, {s.channel or '', aid, group or '', ''},
      {[ST.qwait_sum] = w, [ST.qwait_n] = 1, [ST.qwait_max] = w})
  end
  if group and group ~= '' then redis.call('ZADD', k(P, 'idx', 'group', group), 0, sid) end
  st_q_leave(P, k(P, 'queue', s.routing or 'default'), sid, s, now_ms)
  redis.call('HSET', skey, 'agent_id', aid, 'group', group or '', 'level', level_name or '',
    'level_idx', tostring(level_idx or -1), 'assigned_at', now_iso, 'updated_at', now_iso,
    'af_agent', aid)
  redis.call('HDEL', skey, 'queue_group', 'queue_level')
  local from = s.status
  set_status(P, sid, from, 'active')
  local pol = policy(s.routing)
  if pol.af_ms then
    redis.call('ZADD', k(P, 'timers', 'autoforward'), now_ms + pol.af_ms, sid)
  end
  local sj = sjson(sid)
  emit(P, eid(), 'session.assigned', sid, now_iso, table.concat({'{"session":', sj,
    ',"agent_id":', q(aid), ',"group":', js(group), ',"level":', js(level_name), '}'}))
  if from ~= 'active' then
    emit(P, eid(), 'session.status_changed', sid, now_iso,
      '{"session":' .. sj .. ',"from":' .. q(from) .. ',"to":"active"}')
  end
  s.status, s.agent_id = 'active', aid
  auto_text(P, s.channel, sid, 'assigned', now_ms, aid)
end

-- Puts a session (already released) back in its policy's queue.
local function enqueue(sid, s, to_status, qgroup, qlevel)
  local skey = k(P, 'ses', sid)
  redis.call('HDEL', skey, 'agent_id', 'queue_group', 'queue_level', 'level', 'level_idx')
  if qgroup then redis.call('HSET', skey, 'queue_group', qgroup, 'group', qgroup) end
  if qlevel then redis.call('HSET', skey, 'queue_level', qlevel) end
  redis.call('HSET', skey, 'updated_at', now_iso)
  st_q_enter(P, k(P, 'queue', s.routing or 'default'), sid, s, now_ms)
  set_status(P, sid, s.status, to_status)
  s.agent_id = nil
end

-- Routing's own assignment: assign, and the timeline says the system did it.
local function routed(sid, s, aid, group, level_name, level_idx)
  assign(sid, s, aid, group, level_name, level_idx)
  tl_add(P, sid, now_iso, 'assigned', tl_by(P, ''), table.concat({'"agent":', tl_agent(P, aid),
    ',"group":', js(group), ',"level":', js(level_name)}))
end

-- Tries to place a queued session; returns the chosen agent or nil. A manual
-- policy places nothing: its agents take sessions from the queue themselves
-- (after a reopen and a transfer to a group too).
local function place(sid, s)
  local pol = policy(s.routing)
  if pol.mode == 'manual' then return nil end
  local pname = s.routing or 'default'
  local nrt = is_nrt(s)
  if s.queue_group and s.queue_group ~= '' then
    local c = pick(pname, 'g:' .. s.queue_group,
      {method = 'least_chats', members = {'g:' .. s.queue_group}}, nrt)
    if c then routed(sid, s, c.id, s.queue_group, nil, -1) end
    return c
  end
  if s.queue_level == 'forwarding' then
    if not pol.forwarding then return nil end
    local c = pick(pname, 'fwd', pol.forwarding, nrt)
    if c then routed(sid, s, c.id, c.group, pol.forwarding.name, 0) end
    return c
  end
  for li, lv in ipairs(pol.levels) do
    local c = pick(pname, li, lv, nrt)
    if c then
      routed(sid, s, c.id, c.group, lv.name, li)
      return c
    end
  end
  return nil
end

local function queued(st) return st == 'new' or st == 'transferred' end

local function has_code(codes_json, code)
  for _, c in ipairs(cjson.decode(codes_json)) do
    if c == code then return true end
  end
  return false
end

-- Closes a session (the caller checked it is open): frees its agent and
-- timers, arms archiving, emits, writes the timeline, sends the closing
-- text; a success code that is the goal's event achieves an open goal
-- window. by: an agent id, 'admin', or '' for the system. Returns its JSON.
local function close_session(sid, s, reason, codes, archive_ms, by)
  release(sid, s)
  local skey = k(P, 'ses', sid)
  st_q_leave(P, k(P, 'queue', s.routing or 'default'), sid, s, now_ms)
  redis.call('ZREM', k(P, 'timers', 'idle'), sid)
  redis.call('ZREM', k(P, 'timers', 'autoclose'), sid)
  redis.call('HDEL', skey, 'queue_group', 'queue_level', 'idle')
  redis.call('HSET', skey, 'closed_at', now_iso, 'close_reason', reason, 'success_codes', codes,
    'updated_at', now_iso)
  set_status(P, sid, s.status, 'closed')
  if archive_ms > 0 then
    redis.call('ZADD', k(P, 'timers', 'archive'), now_ms + archive_ms, sid)
  end
  -- retention.archive_after_days (archive.lua) counts from here, when on
  if redis.call('EXISTS', k(P, 'arch', 'on')) == 1 then
    redis.call('ZADD', k(P, 'arch', 'due'), now_ms, sid)
  end
  local sj = sjson(sid)
  emit(P, eid(), 'session.status_changed', sid, now_iso,
    '{"session":' .. sj .. ',"from":' .. q(s.status) .. ',"to":"closed"}')
  emit(P, eid(), 'session.closed', sid, now_iso, table.concat({'{"session":', sj,
    ',"reason":', q(reason), ',"success_codes":', codes, ',"agent_id":', q(s.agent_id), '}'}))
  tl_add(P, sid, now_iso, 'closed', tl_by(P, by), table.concat({'"agent":',
    tl_agent(P, s.agent_id), ',"reason":', q(reason), ',"success_codes":', codes}))
  local c = hgetall(skey)
  st_close(P, c, now_ms)
  if goal_status(P, c) ~= 'none' then goal_count(P, 'closed', c, now_iso) end
  if goal_open(c, now_ms, c.g_ev) and has_code(codes, c.g_ev) then
    goal_end(P, sid, c, 'achieved', now_iso, eid(), tl_by(P, by), 'success_code')
    sj = sjson(sid)
  end
  auto_text(P, s.channel, sid, 'closing', now_ms)
  csat_offer(P, sid, c, 'close', now_ms) -- after the closing text (same due time, sorts later)
  return sj
end

if op == 'drain' then
  -- ARGV[8] policy, [9] max assignments, [10] max scanned.
  local pname, max, scan = ARGV[8], tonumber(ARGV[9]), tonumber(ARGV[10])
  local pol = policies[pname]
  if not pol or pol.mode == 'manual' then return {'ok', 0} end
  -- Only an online agent is ever picked: with none, scanning the queue
  -- (a session hash read per entry) cannot place anything.
  if redis.call('SCARD', k(P, 'online')) == 0 then return {'ok', 0} end
  local qk = k(P, 'queue', pname)
  local ids = redis.call('ZRANGE', qk, 0, scan - 1)
  local done, failed = 0, {}
  for _, sid in ipairs(ids) do
    local s = hgetall(k(P, 'ses', sid))
    if not s.id or not queued(s.status) or (s.agent_id and s.agent_id ~= '') then
      st_q_leave(P, qk, sid, s, now_ms) -- stale entry
    else
      -- sessions of one class (target, real time or not) see the same
      -- members: once one found nobody, the rest of that class is skipped
      local class = (s.queue_group or '') .. '|' .. (s.queue_level or '') .. '|' ..
        (is_nrt(s) and 'n' or 'r')
      if not failed[class] then
        if place(sid, s) then
          done = done + 1
          if done >= max then break end
        else
          failed[class] = true
        end
      end
    end
  end
  return {'ok', done}

elseif op == 'assign' then
  -- ARGV[8] session, [9] agent, [10] "take" (the agent itself) | "manager",
  -- [11] who assigns (a manager's agent id or 'admin'; the timeline's by)
  local sid, aid, how, actor = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return err('not_found', 'no such session') end
  if not queued(s.status) or (s.agent_id and s.agent_id ~= '') then
    if s.agent_id == aid and s.status ~= 'closed' and s.status ~= 'archived' then
      return {'ok', sjson(sid)} -- already theirs: idempotent
    end
    return err('conflict', 'the session is not waiting in the queue (status ' ..
      tostring(s.status) .. ')')
  end
  local l = agent_load(aid, is_nrt(s))
  if not l then return err('not_found', 'no such agent') end
  if how ~= 'take' and l.presence ~= 'online' then
    return err('conflict', 'the agent is not online')
  end
  if not has_space(l) then return err('conflict', 'the agent has no free capacity') end
  assign(sid, s, aid, s.queue_group, s.queue_level == 'forwarding' and 'forwarding' or nil, -1)
  if how == 'take' then
    tl_add(P, sid, now_iso, 'taken', tl_by(P, aid), '"agent":' .. tl_agent(P, aid))
  else
    tl_add(P, sid, now_iso, 'assigned', tl_by(P, actor), table.concat({'"agent":',
      tl_agent(P, aid), ',"group":', js(s.queue_group), ',"level":null'}))
  end
  return {'ok', sjson(sid)}

elseif op == 'transfer' then
  -- ARGV[8] session, [9] to agent ('' none), [10] to group ('' none), [11] comment
  -- (JSON-encoded string or 'null'), [12] by (agent id or '').
  local sid, to_agent, to_group, comment, by = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12]
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return err('not_found', 'no such session') end
  if s.status == 'closed' or s.status == 'archived' then
    return err('conflict', 'a closed session cannot be transferred; reopen it first')
  end
  local from_agent = s.agent_id or ''
  local st_from = st_tuple(s) -- statistics: a transfer counts for who had it
  local comment_text = comment == 'null' and '' or cjson.decode(comment)
  local pol = policy(s.routing)
  local skey = k(P, 'ses', sid)
  local target_json
  if to_agent ~= '' then
    if to_agent == from_agent then return err('conflict', 'the session is already theirs') end
    local l = agent_load(to_agent, is_nrt(s))
    if not l then return err('not_found', 'no such agent') end
    if l.presence ~= 'online' then return err('conflict', 'the agent is not online') end
    if not has_space(l) then return err('conflict', 'the agent has no free capacity') end
    release(sid, s)
    redis.call('HSET', skey, 'transferred_comment', comment_text, 'transferred_from', from_agent)
    assign(sid, s, to_agent, nil, nil, -1)
    target_json = '"to_agent_id":' .. q(to_agent) .. ',"to_group":null'
    tl_add(P, sid, now_iso, 'transferred', tl_by(P, by ~= '' and by or 'admin'), table.concat({
      '"from":', tl_agent(P, from_agent), ',"to":', tl_agent(P, to_agent),
      ',"group":null,"level":null,"comment":', comment}))
  else
    if to_group ~= '' then
      if redis.call('SCARD', k(P, 'group', to_group)) == 0 then
        return err('not_found', 'no such group (no agent belongs to it)')
      end
    elseif not pol.forwarding then
      return err('invalid', 'give agent_id or group: the routing policy has no forwarding_level')
    end
    release(sid, s)
    redis.call('HSET', skey, 'transferred_comment', comment_text, 'transferred_from', from_agent)
    local from_status = s.status
    enqueue(sid, s, 'transferred', to_group ~= '' and to_group or nil,
      to_group == '' and 'forwarding' or nil)
    s = hgetall(skey)
    if from_status ~= 'transferred' then
      emit(P, eid(), 'session.status_changed', sid, now_iso, '{"session":' .. sjson(sid) ..
        ',"from":' .. q(from_status) .. ',"to":"transferred"}')
    end
    target_json = '"to_agent_id":null,"to_group":' .. js(to_group ~= '' and to_group or nil) ..
      (to_group == '' and ',"to_level":"forwarding"' or '')
    tl_add(P, sid, now_iso, 'transferred', tl_by(P, by ~= '' and by or 'admin'), table.concat({
      '"from":', tl_agent(P, from_agent), ',"to":null,"group":',
      js(to_group ~= '' and to_group or nil), ',"level":',
      to_group == '' and '"forwarding"' or 'null', ',"comment":', comment}))
    place(sid, s)
  end
  st_add(P, now_ms, st_from, {[ST.transfers] = 1})
  emit(P, eid(), 'session.transferred', sid, now_iso, table.concat({'{"session":', sjson(sid),
    ',"from_agent_id":', q(from_agent), ',', target_json, ',"comment":', comment,
    ',"by":', q(by), '}'}))
  return {'ok', sjson(sid)}

elseif op == 'close' then
  -- ARGV[8] session, [9] reason, [10] success codes JSON array, [11] archive after ms (0 never),
  -- [12] who closes (an agent id, 'admin', or '' for the system: the timeline's by)
  local sid, reason, codes, archive_ms = ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11])
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return err('not_found', 'no such session') end
  if s.status == 'closed' or s.status == 'archived' then
    return err('conflict', 'the session is already ' .. s.status)
  end
  return {'ok', close_session(sid, s, reason, codes, archive_ms, ARGV[12])}

elseif op == 'reopen' then
  -- ARGV[8] session, [9] who reopens (an agent id or 'admin': the timeline's by)
  local sid = ARGV[8]
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return err('not_found', 'no such session') end
  if s.status ~= 'closed' and s.status ~= 'archived' then
    return err('conflict', 'only a closed or archived session can be reopened')
  end
  local skey = k(P, 'ses', sid)
  redis.call('HDEL', skey, 'agent_id', 'closed_at', 'close_reason', 'first_reply_at')
  redis.call('HSET', skey, 'success_codes', '[]', 'reopened_at', now_iso)
  redis.call('ZREM', k(P, 'timers', 'archive'), sid)
  st_episode(P, sid, s, now_ms)
  local goal_tl = goal_reopen(P, sid, s)
  enqueue(sid, s, 'new')
  local sj = sjson(sid)
  emit(P, eid(), 'session.reopened', sid, now_iso, '{"session":' .. sj .. '}')
  emit(P, eid(), 'session.status_changed', sid, now_iso,
    '{"session":' .. sj .. ',"from":' .. q(s.status) .. ',"to":"new"}')
  tl_add(P, sid, now_iso, 'reopened', tl_by(P, ARGV[9]))
  if goal_tl then tl_add(P, sid, now_iso, 'goal', tl_by(P, ARGV[9]), goal_tl) end
  place(sid, s)
  return {'ok', sjson(sid)}

elseif op == 'presence' then
  -- ARGV[8] agent, [9] online|away|offline, [10] "1" to return open sessions on offline
  local aid, st, give_back = ARGV[8], ARGV[9], ARGV[10] == '1'
  local ak = akey(aid)
  local cur = redis.call('HMGET', ak, 'id', 'presence', 'presence_since_ms')
  if not cur[1] then return err('not_found', 'no such agent') end
  local old, since = cur[2] or 'offline', tonumber(cur[3]) or now_ms
  -- time in the previous state, in total and per UTC day of the change
  local spent = math.max(0, now_ms - since)
  local pk = k(P, 'agent', aid, 'presence')
  redis.call('HINCRBY', pk, old, spent)
  redis.call('HINCRBY', pk, now_iso:sub(1, 10) .. ':' .. old, spent)
  st_presence(P, aid, old, since, now_ms) -- statistics: per hour, and the interval
  redis.call('HSET', ak, 'presence', st, 'presence_since_ms', now_ms, 'presence_since', now_iso)
  if st == 'online' then redis.call('SADD', k(P, 'online'), aid)
  else redis.call('SREM', k(P, 'online'), aid) end
  local returned = 0
  if st == 'offline' and give_back then
    for _, sid in ipairs(redis.call('SMEMBERS', k(P, 'agent', aid, 'sessions'))) do
      local s = hgetall(k(P, 'ses', sid))
      release(sid, s)
      if s.id and s.status ~= 'closed' and s.status ~= 'archived' then
        local from = s.status
        enqueue(sid, s, 'new')
        emit(P, eid(), 'session.status_changed', sid, now_iso, '{"session":' .. sjson(sid) ..
          ',"from":' .. q(from) .. ',"to":"new","reason":"agent_offline"}')
        tl_add(P, sid, now_iso, 'returned', tl_by(P, ''),
          '"from":' .. tl_agent(P, aid) .. ',"reason":"agent_offline"')
        returned = returned + 1
      end
    end
  end
  return {'ok', tostring(returned), old}

elseif op == 'online' then
  -- ARGV[8] policy -> {'ok', '1'} when a member of one of its levels (or its
  -- forwarding level) is online (the web chat's "online"), else {'ok', '0'}
  local pol = policies[ARGV[8]]
  if not pol then return {'ok', '0'} end
  local levels = {}
  for li, lv in ipairs(pol.levels) do levels[#levels + 1] = {lv, ARGV[8] .. '|' .. li} end
  if pol.forwarding then levels[#levels + 1] = {pol.forwarding, ARGV[8] .. '|fwd'} end
  for _, l in ipairs(levels) do
    for _, m in ipairs(resolve(l[1], l[2])) do
      local a = agent_raw(m.id)
      if a and a.presence == 'online' then return {'ok', '1'} end
    end
  end
  return {'ok', '0'}

elseif op == 'timers' then
  -- ARGV[8] max per timer kind, [9] archive after ms (0 never: for the
  -- sessions auto-close closes). Claims due entries (ZRANGEBYSCORE + ZREM in
  -- this one script), so with several instances exactly one fires each.
  local max = tonumber(ARGV[8])
  local afk = k(P, 'timers', 'autoforward')
  local moved, archived = 0, 0
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', afk, '-inf', now_ms, 'LIMIT', 0, max)) do
    redis.call('ZREM', afk, sid)
    local s = hgetall(k(P, 'ses', sid))
    local pol = policy(s.routing)
    if s.id and s.status == 'active' and s.agent_id and s.agent_id ~= '' and
       s.af_agent == s.agent_id and pol.af_ms then
      local cur_li = tonumber(s.level_idx) or -1
      local pname, nrt, c, cl = s.routing or 'default', is_nrt(s), nil, nil
      local start = cur_li >= 1 and cur_li or 1
      for li = start, #pol.levels do
        if not (pol.af_avoid and li == cur_li) then
          c = pick(pname, li, pol.levels[li], nrt, s.agent_id)
          if c then cl = li; break end
        end
      end
      if c then
        local from_agent = s.agent_id
        st_add(P, now_ms, st_tuple(s), {[ST.auto_forwards] = 1})
        release(sid, s)
        redis.call('HSET', k(P, 'ses', sid), 'transferred_from', from_agent)
        assign(sid, s, c.id, c.group, pol.levels[cl].name, cl)
        emit(P, eid(), 'session.transferred', sid, now_iso, table.concat({'{"session":',
          sjson(sid), ',"from_agent_id":', q(from_agent), ',"to_agent_id":', q(c.id),
          ',"to_group":null,"comment":null,"reason":"auto_forward"}'}))
        tl_add(P, sid, now_iso, 'auto_forwarded', tl_by(P, ''), table.concat({'"from":',
          tl_agent(P, from_agent), ',"to":', tl_agent(P, c.id), ',"level":',
          js(pol.levels[cl].name), ',"group":', js(c.group)}))
        moved = moved + 1
      else
        -- nobody else can take it now: try again one period later
        redis.call('ZADD', afk, now_ms + pol.af_ms, sid)
      end
    end
  end
  local ark = k(P, 'timers', 'archive')
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', ark, '-inf', now_ms, 'LIMIT', 0, max)) do
    redis.call('ZREM', ark, sid)
    local st = redis.call('HGET', k(P, 'ses', sid), 'status')
    if st == 'closed' then
      set_status(P, sid, 'closed', 'archived')
      redis.call('HSET', k(P, 'ses', sid), 'archived_at', now_iso, 'updated_at', now_iso)
      emit(P, eid(), 'session.status_changed', sid, now_iso,
        '{"session":' .. sjson(sid) .. ',"from":"closed","to":"archived"}')
      tl_add(P, sid, now_iso, 'archived', tl_by(P, ''))
      archived = archived + 1
    end
  end
  -- The customer timeout (og_texts.h): an agent's reply has waited the
  -- channel's customer_timeout.after_s for an answer. The prompt is queued
  -- as an automatic text, session.timeout_prompted emitted, and auto-close
  -- armed for auto_close.after_s later; the customer's answer (ingest) or a
  -- new reply (outbox_reply) disarms it.
  local prompted, autoclosed, missed = 0, 0, 0
  local idk, ack = k(P, 'timers', 'idle'), k(P, 'timers', 'autoclose')
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', idk, '-inf', now_ms, 'LIMIT', 0, max)) do
    redis.call('ZREM', idk, sid)
    local s = hgetall(k(P, 'ses', sid))
    local tc = texts_of(P, s.channel)
    if s.id and s.status == 'awaiting' and s.idle == '1' and tc.to then
      redis.call('HSET', k(P, 'ses', sid), 'idle', '2')
      auto_text(P, s.channel, sid, 'timeout', now_ms)
      if tc.ac then redis.call('ZADD', ack, now_ms + tc.ac, sid) end
      emit(P, eid(), 'session.timeout_prompted', sid, now_iso, table.concat({'{"session":',
        sjson(sid), ',"after_s":', string.format('%d', tc.to / 1000), ',"auto_close_after_s":',
        tc.ac and string.format('%d', tc.ac / 1000) or 'null', '}'}))
      prompted = prompted + 1
    end
  end
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', ack, '-inf', now_ms, 'LIMIT', 0, max)) do
    redis.call('ZREM', ack, sid)
    local s = hgetall(k(P, 'ses', sid))
    if s.id and s.status == 'awaiting' and s.idle == '2' then
      close_session(sid, s, 'customer_timeout', '[]', tonumber(ARGV[9]) or 0, '')
      autoclosed = autoclosed + 1
    end
  end
  -- Goal windows that passed without the goal's event (og_goals.h).
  local gk = k(P, 'timers', 'goal')
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', gk, '-inf', now_ms, 'LIMIT', 0, max)) do
    redis.call('ZREM', gk, sid)
    local s = hgetall(k(P, 'ses', sid))
    if s.id and s.g_st == 'in_process' and s.g_new ~= '1' then
      local ends = tonumber(s.g_end_ms or '') or 0
      if ends > now_ms then
        redis.call('ZADD', gk, ends, sid)
      else
        goal_end(P, sid, s, 'missed', now_iso, eid(), tl_by(P, ''), nil)
        missed = missed + 1
      end
    end
  end
  -- The survey after silence (og_csat.h): no message in the session for
  -- the channel's csat.silence_s since an agent's reply (outbox_reply arms
  -- it, a customer's message pushes it back): the survey message is queued,
  -- once per session, open or closed.
  local csk = k(P, 'timers', 'csat')
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', csk, '-inf', now_ms, 'LIMIT', 0, max)) do
    redis.call('ZREM', csk, sid)
    local s = hgetall(k(P, 'ses', sid))
    if s.id then csat_offer(P, sid, s, 'silence', now_ms) end
  end
  return {'ok', moved, archived, prompted, autoclosed, missed}
end
return err('internal', 'routing.lua: unknown op ' .. tostring(op))
