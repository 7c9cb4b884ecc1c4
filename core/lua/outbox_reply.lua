-- outbox_reply.lua: an agent's outbound message, stored and queued atomically.
-- ARGV[1] = P, ARGV[2] = op:
--   "reply" [3] sid, [4] mid, [5] now_ms, [6] now_iso, [7] mtail, [8] sender JSON,
--           [9] eid, [10] sensitive terms (JSON array, '' = none), [11] their
--           event's id, [12] a goal window's day in ms, [13] who sends (an agent
--           id or 'admin'), [14] how old the customer's last message may be for
--           this message, in ms ('0': any age; a free-form message on a
--           platform with a window gets the window, a tagged one the tag's)
--           -> {'ok', message JSON, session id} | err not_found | err conflict
--              (closed) | err window_closed (nothing stored)
--   "start" [3] channel, [4] connector, [5] routing, [6] contact id or '',
--           [7] external id or '', [8] new sid, [9] mid, [10] now_ms, [11] now_iso,
--           [12] mtail, [13] sender JSON, [14] eid, [15] agent id or '',
--           [16] the connector's messaging window in ms (0 = none), [17] '1' for a
--           non-real-time connector (e-mail-like: counts against max_nrt_chats),
--           [18] sensitive terms (JSON array, '' = none), [19] their event's id,
--           [20] a goal window's day in ms
--           -> {'ok', message JSON, session id, '1' created | '2' reopened} |
--              err not_found (no such contact on the channel) | err conflict
--              (the contact has an open session: message = its id) | err
--              window_closed
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
-- mtail is the message JSON's middle part rendered by C ("provider_message_id":
-- null, "kind", "text", "attachments", "location", "created_at", and "flags" and
-- "sensitive_terms" when C found sensitive words: og_sensitive.h). The message
-- starts "pending" and P:outbox gets {m = mid}; the send worker does the rest.
local P, op = ARGV[1], ARGV[2]

local ALPHA = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
local function eid_n(base, i)
  local a, b = math.floor(i / 32) % 32 + 1, i % 32 + 1
  return base:sub(1, #base - 2) .. ALPHA:sub(a, a) .. ALPHA:sub(b, b)
end

-- An agent's message waits for the customer: the channel's customer
-- timeout (og_texts.h) prompts after its after_s unless the customer writes
-- (ingest disarms it); a new reply starts the wait again.
local function arm_idle(sid, s, now_ms)
  local to = texts_of(P, s.channel).to
  if not to then return end
  redis.call('ZADD', k(P, 'timers', 'idle'), tonumber(now_ms) + to, sid)
  redis.call('ZREM', k(P, 'timers', 'autoclose'), sid)
  redis.call('HSET', k(P, 'ses', sid), 'idle', '1')
end

-- Stores the message, queues it, and updates the session; returns its JSON.
-- day_ms and actor: for the chat goal an agent's reply may start.
local function store_out(sid, s, mid, now_ms, now_iso, mtail, sender, eid, terms, feid, day_ms,
                         actor)
  local skey = k(P, 'ses', sid)
  local mj = table.concat({'{"id":"', mid, '","session_id":"', sid, '","direction":"out",',
    mtail, ',"sender":', sender, ',"reply_to":null'})
  redis.call('HSET', k(P, 'msg', mid), 'j', mj, 'st', 'pending', 'sid', sid, 'dir', 'out',
    'ch', s.channel, 'att', '0')
  msgs_add(P, sid, mid)
  redis.call('XADD', k(P, 'outbox'), '*', 'm', mid)
  -- updated_at is implied: the later of it and last_message_at (session_render)
  redis.call('HSET', skey, 'last_message_at', now_iso, 'last_agent_message_at', now_iso)
  redis.call('HSETNX', skey, 'first_reply_at', now_iso)
  st_out(P, sid, s, tonumber(now_ms)) -- statistics: messages out, response times
  -- The agent answered: the auto-forward timer of the routing engine stops.
  redis.call('ZREM', k(P, 'timers', 'autoforward'), sid)
  local lcm = tonumber(s.last_customer_ms or '')
  if lcm and window_ms(s) > 0 and lcm + window_ms(s) > tonumber(now_ms) then
    redis.call('ZADD', k(P, 'timers', 'window'), lcm + window_ms(s), sid)
  end
  goal_start(P, sid, s, now_ms, now_iso, tonumber(day_ms), actor)
  arm_idle(sid, s, now_ms)
  -- the survey after silence (og_csat.h): counted from the last message
  local cs = texts_of(P, s.channel).cs
  if cs and (s.csat or '') == '' and s.csat_off ~= '1' then
    redis.call('ZADD', k(P, 'timers', 'csat'), tonumber(now_ms) + cs, sid)
  end
  if s.status == 'active' then
    set_status(P, sid, 'active', 'awaiting')
    emit(P, eid, 'session.status_changed', sid, now_iso,
      '{"session":' .. session_json(P, sid) .. ',"from":"active","to":"awaiting"}')
  end
  local mj = message_json(P, mid)
  if terms and terms ~= '' then
    flag_message(P, feid, sid, mid, now_iso, session_json(P, sid), mj, terms)
  end
  return mj
end

local function no_contact() return {'err', 'not_found', 'no such contact on this channel'} end

if op == 'reply' then
  local sid = ARGV[3]
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return {'err', 'not_found', 'no such session'} end
  if s.status == 'closed' or s.status == 'archived' then
    return {'err', 'conflict', 'the session is closed'}
  end
  local max_age = tonumber(ARGV[14] or '0') or 0
  if max_age > 0 then
    local lcm = tonumber(s.last_customer_ms or '')
    if not lcm or lcm + max_age <= tonumber(ARGV[5]) then
      return {'err', 'window_closed', 'the messaging window is closed'}
    end
  end
  local mj = store_out(sid, s, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10],
    ARGV[11], ARGV[12], ARGV[13])
  return {'ok', mj, sid}
elseif op == 'start' then
  local ch, connector, routing = ARGV[3], ARGV[4], ARGV[5]
  local cid, ext = ARGV[6], ARGV[7]
  local now_ms, now_iso = ARGV[10], ARGV[11]
  if cid ~= '' then
    if redis.call('HGET', k(P, 'con', cid), 'channel') ~= ch then return no_contact() end
    ext = redis.call('HGET', k(P, 'con', cid), 'external_id') or ''
  else
    cid = contact_of(P, ch, ext)
    if not cid then return no_contact() end
  end
  -- A contact's default thread is their external id (as on ingest).
  local sid = thread_get(P, ch, ext)
  local s, how = nil, '1'
  if sid then
    s = hgetall(k(P, 'ses', sid))
    if not s.id and redis.call('HEXISTS', k(P, 'arch', 'loc'), sid) == 1 then
      -- in the archive: og_outbox.c brings it back and calls again
      return {'err', 'conflict', 'archived:' .. sid}
    end
    if s.status ~= 'closed' and s.status ~= 'archived' then return {'err', 'conflict', sid} end
  end
  local wms = tonumber(ARGV[16]) or 0
  if wms > 0 then
    local lcm = s and tonumber(s.last_customer_ms or '')
    if not lcm or lcm + wms <= tonumber(now_ms) then
      return {'err', 'window_closed', 'the messaging window is closed'}
    end
  end
  -- An agent's conversation is theirs at once (it counts against their
  -- capacity and is found by their agent filter); one the admin token
  -- starts waits in the routing queue for an agent, as a customer's would.
  local agent = ARGV[15]
  local st = agent ~= '' and 'awaiting' or 'new'
  local skey
  if sid then
    how = '2'
    skey = k(P, 'ses', sid)
    set_status(P, sid, s.status, st)
    redis.call('HDEL', skey, 'closed_at', 'close_reason', 'first_reply_at', 'agent_id')
    redis.call('HSET', skey, 'success_codes', '[]', 'reopened_at', now_iso)
    local goal_tl = goal_reopen(P, sid, s)
    emit(P, eid_n(ARGV[14], 1), 'session.reopened', sid, now_iso,
      '{"session":' .. session_json(P, sid) .. '}')
    local by = tl_by(P, agent ~= '' and agent or 'admin')
    tl_add(P, sid, now_iso, 'reopened', by, '"origin":"agent"')
    if goal_tl then tl_add(P, sid, now_iso, 'goal', by, goal_tl) end
  else
    sid = ARGV[8]
    skey = k(P, 'ses', sid)
    thread_set(P, ch, ext, sid)
    redis.call('HSET', skey, 'id', sid, 'channel', ch, 'connector', connector,
      'status', st, 'contact_id', cid, 'thread_id', ext, 'routing', routing,
      'created_at', now_iso, 'origin', 'agent')
    if ARGV[17] == '1' then redis.call('HSET', skey, 'nrt', '1') end
    redis.call('ZADD', k(P, 'idx', 'all'), 0, sid)
    redis.call('ZADD', k(P, 'idx', 'st', st), 0, sid)
    emit(P, eid_n(ARGV[14], 1), 'session.created', sid, now_iso,
      '{"session":' .. session_json(P, sid) .. '}')
    tl_add(P, sid, now_iso, 'created', tl_by(P, agent ~= '' and agent or 'admin'),
      '"channel":' .. q(ch) .. ',"origin":"agent"')
  end
  -- The agent opened this inquiry: its goal is measured from the agent's
  -- reply to the customer's answer, not from this first message.
  redis.call('HSET', skey, 'g_hold', '1')
  if agent ~= '' then
    agent_attach(P, sid, agent, redis.call('HGET', skey, 'nrt') == '1', now_ms)
    redis.call('HSET', skey, 'agent_id', agent, 'assigned_at', now_iso)
  else
    st_q_enter(P, k(P, 'queue', routing), sid, {channel = ch}, now_ms)
  end
  s = hgetall(k(P, 'ses', sid))
  st_episode(P, sid, s, tonumber(now_ms), true)
  if how == '1' then st_add(P, tonumber(now_ms), {ch, '', '', ''}, {[ST.new] = 1}) end
  local mj = store_out(sid, s, ARGV[9], now_ms, now_iso, ARGV[12], ARGV[13], ARGV[14], ARGV[18],
    ARGV[19], ARGV[20], agent ~= '' and agent or 'admin')
  return {'ok', mj, sid, how}
end
return {'err', 'internal', 'outbox_reply.lua: unknown op ' .. tostring(op)}
