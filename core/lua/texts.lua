-- texts.lua: automatic texts (og_texts.h), the steps of og_texts.c.
-- The scripts that see a session change queue its texts with the prelude's
-- auto_text (P:timers:texts, member "<sid>|<kind>|<ms>|<agent>", score =
-- due ms); here they are claimed for rendering and stored once.
-- ARGV[1] = P, ARGV[2] = op:
--   "sync"  [3] JSON {"<channel>":{"greeting":1,"queue":1,"assigned":1,
--           "closing":1,"timeout":1,"to":ms,"ac":ms,"csat":"close"|"silence",
--           "cs":ms,"csat_thanks":1}} -> {'ok', channels}:
--           P:texts becomes exactly this (the config's texts)
--   "claim" [3] now_ms, [4] lease_ms, [5] max, [6] instance -> {'ok', job...}:
--           the due texts, each claimed until now + lease (an instance that
--           dies before storing one leaves it to another: at once when its
--           heartbeat is gone, instances.lua, else after the lease); 9 values per
--           job: member, kind, session id, channel, contact name, e-mail,
--           phone, agent name, queue position ('' when not queued). A job
--           whose moment has passed (applies below) is dropped instead.
--   "store" [3] member, [4] message id, [5] now_iso, [6] mtail ('' drops the
--           job), [7] instance -> {'ok', 'sent' | 'gone' (another instance did it) |
--           'stale' (the moment passed)}: the text is stored as a system
--           message ("sender":{"type":"system"}) and queued for sending
--           (P:outbox), once: the job's ZREM decides who stores it.
-- A system message is history and is sent like an agent's, but it is no
-- agent's reply: first_reply_at, the status (active -> awaiting), the
-- auto-forward timer, the customer timeout and the chat goal ignore it.
local P, op = ARGV[1], ARGV[2]
local TK = k(P, 'timers', 'texts')

local function split(member)
  local f = {}
  for part in (member .. '|'):gmatch('([^|]*)|') do f[#f + 1] = part end
  return f[1], f[2], f[4] -- session, kind, agent
end

-- Whether a text still fits the session: a greeting while it is open, the
-- queue text while it waits for an agent, the assigned text while that
-- agent has it, the timeout prompt while the customer is still silent, the
-- closing text while it is closed.
local function applies(kind, s, agent)
  if not s.id then return false end
  local open = s.status ~= 'closed' and s.status ~= 'archived'
  if kind == 'greeting' then return open end
  if kind == 'queue' then
    return (s.status == 'new' or s.status == 'transferred') and (s.agent_id or '') == ''
  end
  if kind == 'assigned' then return open and s.agent_id == agent end
  if kind == 'timeout' then return s.status == 'awaiting' and s.idle == '2' end
  if kind == 'closing' then return not open end
  -- the survey (og_csat.h) until the session is rated; its thanks once it is
  if kind == 'csat' then return (s.csat or '') == '' end
  if kind == 'csat_thanks' then return (s.csat or '') ~= '' end
  return false
end

local function agent_name(aid)
  if not aid or aid == '' then return '' end
  return redis.call('HGET', k(P, 'agent', aid), 'name') or
    redis.call('HGET', k(P, 'agent', aid, 'deleted'), 'name') or ''
end

if op == 'sync' then
  local all = cjson.decode(ARGV[3])
  redis.call('DEL', k(P, 'texts'))
  local n = 0
  for ch, t in pairs(all) do
    redis.call('HSET', k(P, 'texts'), ch, cjson.encode(t))
    n = n + 1
  end
  return {'ok', n}
elseif op == 'claim' then
  local now, lease, max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
  local out = {'ok'}
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', TK, '-inf', now, 'LIMIT', 0, max)) do
    local sid, kind, agent = split(m)
    local s = hgetall(k(P, 'ses', sid))
    if applies(kind, s, agent) then
      lease_hold(P, ARGV[6], TK, m, now + lease)
      local c = redis.call('HMGET', k(P, 'con', s.contact_id or ''), 'name', 'email', 'phone')
      local pos = ''
      if kind == 'queue' then
        local r = redis.call('ZRANK', k(P, 'queue', s.routing or 'default'), sid)
        pos = r and tostring(r + 1) or ''
      end
      local who = kind == 'assigned' and agent or s.agent_id
      for _, v in ipairs({m, kind, sid, s.channel, c[1] or '', c[2] or '', c[3] or '',
                          agent_name(who), pos}) do
        out[#out + 1] = v
      end
    else
      redis.call('ZREM', TK, m)
    end
  end
  return out
elseif op == 'store' then
  local m, mid, now_iso, mtail = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  lease_drop(P, ARGV[7], TK, m)
  if redis.call('ZREM', TK, m) == 0 then return {'ok', 'gone'} end
  local sid, kind, agent = split(m)
  local s = hgetall(k(P, 'ses', sid))
  if mtail == '' or not applies(kind, s, agent) then return {'ok', 'stale'} end
  local mj = table.concat({'{"id":"', mid, '","session_id":"', sid, '","direction":"out",',
    mtail, ',"sender":{"type":"system","id":null,"name":null},"reply_to":null,"auto_text":"',
    kind, '"'})
  redis.call('HSET', k(P, 'msg', mid), 'j', mj, 'st', 'pending', 'sid', sid, 'dir', 'out',
    'ch', s.channel, 'att', '0', 'auto', kind)
  msgs_add(P, sid, mid)
  redis.call('XADD', k(P, 'outbox'), '*', 'm', mid)
  redis.call('HSET', k(P, 'ses', sid), 'last_message_at', now_iso) -- implies updated_at
  -- the customer's next message may be the survey's answer (ingest)
  if kind == 'csat' then redis.call('HSET', k(P, 'ses', sid), 'csat_ask', '1') end
  tl_add(P, sid, now_iso, 'auto_text', '{"type":"system"}',
    '"text":"' .. kind .. '","message_id":"' .. mid .. '"')
  return {'ok', 'sent'}
end
return {'err', 'internal', 'texts.lua: unknown op ' .. tostring(op)}
