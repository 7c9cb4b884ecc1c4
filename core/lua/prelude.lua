-- prelude.lua: shared by every omnigate script (prepended at load time).
--
-- Key layout. P is the configured prefix wrapped as a hash tag, "{og}", so
-- every key of one deployment lives in one Redis Cluster slot and several
-- deployments can share one Redis.
--   P:con:<id>                 hash  contact
--   P:contact:<ch>:<ext>       string contact id of an external id
--   P:ses:<id>                 hash  session
--   P:ses:<id>:msgs            zset  message ids (score 0, ordered by id = time)
--   P:thread:<ch>:<thread>     string current session of a thread
--   P:msg:<id>                 hash  message
--   P:pmid:<ch>:<provider id>  string message id of a provider message id
--   P:dedup:<ch>:<key>         string message id, expires after the dedup TTL
--   P:idx:all / P:idx:st:<status> / P:idx:ch:<ch>   zset session ids (lex order)
--   P:queue:<policy>           zset  sessions waiting for routing (score = ms)
--   P:events                   stream events (fields: id, type, session, event)
--   P:state:<ch>               hash  connector state (polling offsets)
local function k(P, ...)
  return P .. ':' .. table.concat({...}, ':')
end

-- JSON helpers: strings through cjson.encode (correct escaping); '' and
-- false become null so optional fields read as absent.
local function js(v)
  if v == nil or v == false or v == '' then return 'null' end
  return cjson.encode(v)
end
local function raw_or(v, dflt)
  if v == nil or v == false or v == '' then return dflt end
  return v
end

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

local function contact_json(P, cid)
  local c = hgetall(k(P, 'con', cid))
  if not c.id then return 'null' end
  return '{"id":' .. js(c.id) .. ',"channel":' .. js(c.channel) ..
    ',"external_id":' .. js(c.external_id) .. ',"name":' .. js(c.name) ..
    ',"username":' .. js(c.username) .. ',"avatar_url":' .. js(c.avatar_url) ..
    ',"phone":' .. js(c.phone) .. ',"email":' .. js(c.email) ..
    ',"created_at":' .. js(c.created_at) .. '}'
end

local function session_json(P, sid)
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return nil end
  return '{"id":' .. js(s.id) .. ',"channel":' .. js(s.channel) ..
    ',"connector":' .. js(s.connector) .. ',"status":' .. js(s.status) ..
    ',"contact":' .. contact_json(P, s.contact_id) ..
    ',"agent_id":' .. js(s.agent_id) .. ',"group":' .. js(s.group) ..
    ',"level":' .. js(s.level) .. ',"routing":' .. js(s.routing) ..
    ',"created_at":' .. js(s.created_at) .. ',"updated_at":' .. js(s.updated_at) ..
    ',"first_reply_at":' .. js(s.first_reply_at) ..
    ',"last_message_at":' .. js(s.last_message_at) ..
    ',"last_customer_message_at":' .. js(s.last_customer_message_at) ..
    ',"closed_at":' .. js(s.closed_at) .. ',"close_reason":' .. js(s.close_reason) ..
    ',"success_codes":' .. raw_or(s.success_codes, '[]') ..
    ',"csat":' .. raw_or(s.csat, 'null') .. ',"goal":' .. raw_or(s.goal, 'null') ..
    ',"message_count":' .. (tonumber(s.message_count) or 0) .. '}'
end

local function message_json(P, mid)
  local m = hgetall(k(P, 'msg', mid))
  if not m.id then return nil end
  return '{"id":' .. js(m.id) .. ',"session_id":' .. js(m.session_id) ..
    ',"direction":' .. js(m.direction) .. ',"kind":' .. js(m.kind) ..
    ',"text":' .. js(m.text) .. ',"attachments":' .. raw_or(m.attachments, '[]') ..
    ',"location":' .. raw_or(m.location, 'null') ..
    ',"sender":{"type":' .. js(m.sender_type) .. ',"id":' .. js(m.sender_id) ..
    ',"name":' .. js(m.sender_name) .. '}' ..
    ',"provider_message_id":' .. js(m.provider_message_id) ..
    ',"reply_to":' .. js(m.reply_to) ..
    ',"reply_to_provider_id":' .. js(m.reply_to_provider_id) ..
    ',"status":' .. js(m.status) .. ',"error":' .. raw_or(m.error, 'null') ..
    ',"created_at":' .. js(m.created_at) .. '}'
end

-- Appends one event to the stream. data is a JSON object text.
local function emit(P, eid, etype, sid, now_iso, data)
  local ev = '{"id":' .. js(eid) .. ',"type":' .. js(etype) .. ',"created_at":' ..
    js(now_iso) .. ',"data":' .. data .. '}'
  redis.call('XADD', k(P, 'events'), 'MAXLEN', '~', '1000000', '*',
    'id', eid, 'type', etype, 'session', sid or '', 'event', ev)
end

-- Moves a session between status indexes and records the change.
local function set_status(P, sid, old, new)
  if old == new then return end
  if old and old ~= '' then redis.call('ZREM', k(P, 'idx', 'st', old), sid) end
  redis.call('ZADD', k(P, 'idx', 'st', new), 0, sid)
  redis.call('HSET', k(P, 'ses', sid), 'status', new)
end
