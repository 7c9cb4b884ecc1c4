-- webchat.lua: the state of visitors, the people who talk to omnigate
-- directly through the web chat widget (og_webchat.h, ABI 1.2's visitor
-- services). A visitor is a contact of its channel whose external id is
-- "v_..." and whose one thread is that id; its messages go through
-- ingest.lua like any channel's. What is kept here besides:
--   P:wc:tok:<sha256 hex of the token>   hash ch, ext, cid: the token, hashed
--   P:wc:rl:<ch>:<key>                   a fixed-window counter (rate limits)
-- ARGV[1] = P, ARGV[2] = op:
--   "create" [3] ch [4] ext [5] new contact id [6] name [7] email [8] phone
--            [9] now_iso [10] token hash [11] event id -> {'ok', cid}:
--            the contact (contact.created) and the token
--   "auth"   [3] token hash -> {'ok', ch, ext, cid} | not_found
--   "conv"   [3] ch [4] ext [5] after ('' = the last [6]) [6] limit
--            -> {'ok', session JSON | '', message id...} oldest first (C
--            renders the messages: og_messages_json); not_found when after is
--            no message of the visitor's session
--   "rate"   [3] ch [4] key [5] limit [6] window ms -> {'ok'} counted, or
--            {'err', 'rate_limited', ms to wait} (nothing counted)
--   "typing" [3] ch [4] session id or '' [5] ext or '' [6] '1' | '0'
--            [7] by: 'contact' or an agent id [8] now_iso [9] event id
--            -> {'ok', session id | ''}: event session.typing
--   "owns"   [3] ch [4] ext [5] message id -> {'ok', session id, sent ms}
--            when the message is an outbound one of the visitor's session
--   "session" [3] ch [4] ext -> {'ok', session id | '', status}
--   "file_put" [3] ch [4] ext [5] file id [6] mime [7] name [8] size [9] bytes
--            [10] the message's provider id -> {'ok', 'new', ''} stored in
--            P:wc:file:<id>, or {'ok', 'dup', message id} when that message
--            is stored already (nothing written)
--   "file_get" [3] file id -> {'ok', ch, ext, mime, name, bytes, session id | ''}
local P, op = ARGV[1], ARGV[2]

local function thread_sid(ch, ext)
  return thread_get(P, ch, ext)
end

if op == 'create' then
  local ch, ext, cid = ARGV[3], ARGV[4], ARGV[5]
  local now_iso = ARGV[9]
  local ck = k(P, 'contact', ch, ext)
  if redis.call('EXISTS', ck) == 1 then return {'err', 'conflict', 'visitor exists'} end
  redis.call('SET', ck, cid)
  redis.call('HSET', k(P, 'con', cid), 'id', cid, 'channel', ch, 'external_id', ext,
    'name', ARGV[6], 'username', '', 'avatar_url', '', 'phone', ARGV[8], 'email', ARGV[7],
    'created_at', now_iso)
  local cj = contact_render(P, cid)
  redis.call('HSET', k(P, 'wc', 'tok', ARGV[10]), 'ch', ch, 'ext', ext, 'cid', cid)
  emit(P, ARGV[11], 'contact.created', '', now_iso, '{"contact":' .. cj .. '}')
  return {'ok', cid}

elseif op == 'auth' then
  local t = redis.call('HMGET', k(P, 'wc', 'tok', ARGV[3]), 'ch', 'ext', 'cid')
  if not t[1] then return {'err', 'not_found', 'unknown token'} end
  return {'ok', t[1], t[2], t[3]}

elseif op == 'conv' then
  local ch, ext, after, limit = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
  local sid = thread_sid(ch, ext)
  local out = {'ok', ''}
  if not sid then
    if after ~= '' then return {'err', 'not_found', 'no such message'} end
    return out
  end
  out[2] = session_json(P, sid) or ''
  if limit <= 0 then return out end
  local ids
  if after ~= '' then
    if not msgs_call(P, sid, 'ZSCORE', after) then return {'err', 'not_found', 'no such message'} end
    ids = msgs_call(P, sid, 'ZRANGEBYLEX', '(' .. after, '+', 'LIMIT', 0, limit)
  else
    ids = msgs_call(P, sid, 'ZRANGE', -limit, -1)
  end
  for _, mid in ipairs(ids) do out[#out + 1] = mid end
  return out

elseif op == 'rate' then
  local key = k(P, 'wc', 'rl', ARGV[3], ARGV[4])
  local limit, win = tonumber(ARGV[5]), tonumber(ARGV[6])
  local n = tonumber(redis.call('GET', key) or '0')
  if n >= limit then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then redis.call('PEXPIRE', key, win); ttl = win end
    return {'err', 'rate_limited', tostring(ttl)}
  end
  if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, win) end
  return {'ok'}

elseif op == 'typing' then
  local ch, sid, ext, on, by, now_iso = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
  if sid == '' then sid = thread_sid(ch, ext) or '' end
  if sid == '' then return {'ok', ''} end
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return {'err', 'not_found', 'no such session'} end
  if s.status == 'closed' or s.status == 'archived' then return {'ok', ''} end
  local who
  if by == 'contact' then
    who = '"by":"contact","agent":null'
  else
    who = '"by":"agent","agent":{"id":' .. q(by) .. ',"name":' ..
      js(redis.call('HGET', k(P, 'agent', by), 'name')) .. '}'
  end
  emit(P, ARGV[9], 'session.typing', sid, now_iso, table.concat({'{"session_id":"', sid, '","on":',
    on == '1' and 'true' or 'false', ',', who, ',"session":', session_render(P, s), '}'}))
  return {'ok', sid}

elseif op == 'owns' then
  local ch, ext, mid = ARGV[3], ARGV[4], ARGV[5]
  local sid = thread_sid(ch, ext)
  if not sid then return {'err', 'not_found', 'no such message'} end
  local m = redis.call('HMGET', k(P, 'msg', mid), 'sid', 'dir', 'sent_ms')
  if m[1] ~= sid then return {'err', 'not_found', 'no such message'} end
  return {'ok', sid, m[3] or '', m[2] or 'in'}

elseif op == 'file_put' then
  -- a retry of a file already stored as a message stores nothing
  local known = pmid_get(P, ARGV[3], ARGV[10])
  if known then return {'ok', 'dup', known} end
  redis.call('HSET', k(P, 'wc', 'file', ARGV[5]), 'ch', ARGV[3], 'ext', ARGV[4], 'mime', ARGV[6],
    'name', ARGV[7], 'size', ARGV[8], 'data', ARGV[9])
  return {'ok', 'new', ''}

elseif op == 'file_get' then
  local f = redis.call('HMGET', k(P, 'wc', 'file', ARGV[3]), 'ch', 'ext', 'mime', 'name', 'data')
  if not f[1] then return {'err', 'not_found', 'no such file'} end
  return {'ok', f[1], f[2], f[3], f[4], f[5], thread_get(P, f[1], f[2]) or ''}

elseif op == 'session' then
  local sid = thread_sid(ARGV[3], ARGV[4])
  if not sid then return {'ok', '', ''} end
  return {'ok', sid, redis.call('HGET', k(P, 'ses', sid), 'status') or ''}
end
return {'err', 'invalid', 'unknown op'}
