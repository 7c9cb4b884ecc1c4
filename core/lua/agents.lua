-- agents.lua: the agent store. Every change that touches more than one key
-- (the agent hash, the e-mail and token indexes, the group sets) is one call
-- here, so an e-mail is never owned by two agents and a token never points
-- at a deleted agent. Tokens are kept only as hex SHA-256 digests.
-- ARGV[1] = P, ARGV[2] = op:
--   "put"    [3] now_iso, [4] create|update|seed, [5] id, [6] token sha ('' =
--            keep), [7..] field/value pairs among name, email, role, groups
--            (JSON array), max_chats, max_nrt ('' = unlimited), allowed_ips
--            (JSON array). seed: [5] is used only when no agent has the e-mail.
--            -> {"ok", json} | {"err", code, message}
--   "delete" [3] id -> {"ok"} | err (conflict while it has open sessions)
--   "token"  [3] id, [4] new sha ('' revokes) -> {"ok", json} | err
--   "get"    [3] id -> {"ok", json} | err not_found
--   "list"   -> {"ok", json...} (id order)
--   "auth"   [3] token sha -> {"ok", id, role, groups JSON, allowed_ips JSON}
--            | err not_found (an unknown token)
-- Every op replies {"ok", ...} or {"err", code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]

-- Time spent in each presence state up to the last change (for reports;
-- per UTC day in P:agent:<id>:presence "<YYYY-MM-DD>:<state>").
local function presence_time(id)
  local t = redis.call('HMGET', k(P, 'agent', id, 'presence'), 'online', 'away', 'offline')
  return '{"online":' .. (t[1] or '0') .. ',"away":' .. (t[2] or '0') .. ',"offline":' ..
    (t[3] or '0') .. '}'
end

local function agent_json(id)
  local a = hgetall(k(P, 'agent', id))
  if not a.id then return nil end
  local function num(v) return (v and v ~= '') and v or 'null' end
  return table.concat({'{"id":', q(a.id), ',"name":', js(a.name), ',"email":', js(a.email),
    ',"role":', q(a.role), ',"groups":', raw_or(a.groups, '[]'),
    ',"max_chats":', num(a.max_chats), ',"max_nrt_chats":', num(a.max_nrt),
    ',"allowed_ips":', raw_or(a.allowed_ips, '[]'), ',"presence":', q(a.presence or 'offline'),
    ',"presence_since":', q(a.presence_since), ',"chats":', a.chats or '0',
    ',"nrt_chats":', a.nrt or '0', ',"presence_time_ms":', presence_time(id),
    ',"has_token":', (a.token_sha and a.token_sha ~= '') and
    'true' or 'false', ',"has_password":', (a.pw and a.pw ~= '') and 'true' or 'false',
    ',"password_set_at":', q(a.pw_set_at), ',"created_at":', q(a.created_at), ',"updated_at":', q(a.updated_at), '}'})
end

local function set_groups(id, old_json, new_json)
  for _, g in ipairs(cjson.decode(old_json or '[]')) do redis.call('SREM', k(P, 'group', g), id) end
  for _, g in ipairs(cjson.decode(new_json)) do redis.call('SADD', k(P, 'group', g), id) end
end

if op == 'put' then
  local now_iso, mode, id, sha = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  local f = {}
  for i = 7, #ARGV, 2 do f[ARGV[i]] = ARGV[i + 1] end
  if mode == 'seed' then
    local known = redis.call('GET', k(P, 'agent_email', f.email))
    if known then id = known; mode = 'update' else mode = 'create' end
  end
  local ak = k(P, 'agent', id)
  local cur = hgetall(ak)
  if mode == 'create' then
    if cur.id then return {'err', 'conflict', 'agent id exists'} end
    if redis.call('EXISTS', k(P, 'agent_email', f.email)) == 1 then
      return {'err', 'conflict', 'an agent with this email exists'}
    end
    redis.call('HSET', ak, 'id', id, 'presence', 'offline', 'presence_since_ms',
      redis.call('TIME')[1] * 1000, 'presence_since', now_iso, 'chats', 0, 'nrt', 0,
      'created_at', now_iso, 'groups', '[]', 'allowed_ips', '[]', 'role', 'agent',
      'max_chats', '', 'max_nrt', '')
    redis.call('SADD', k(P, 'agents'), id)
    cur = {groups = '[]'}
  elseif not cur.id then
    return {'err', 'not_found', 'no such agent'}
  end
  if f.email and f.email ~= cur.email then
    local owner = redis.call('GET', k(P, 'agent_email', f.email))
    if owner and owner ~= id then return {'err', 'conflict', 'an agent with this email exists'} end
    if cur.email then redis.call('DEL', k(P, 'agent_email', cur.email)) end
    redis.call('SET', k(P, 'agent_email', f.email), id)
  end
  if f.groups then set_groups(id, cur.groups, f.groups) end
  local pairs_ = {}
  for name, v in pairs(f) do pairs_[#pairs_ + 1] = name; pairs_[#pairs_ + 1] = v end
  pairs_[#pairs_ + 1] = 'updated_at'; pairs_[#pairs_ + 1] = now_iso
  redis.call('HSET', ak, unpack(pairs_))
  if sha ~= '' then
    if cur.token_sha and cur.token_sha ~= '' then
      redis.call('DEL', k(P, 'agent_token', cur.token_sha))
    end
    redis.call('SET', k(P, 'agent_token', sha), id)
    redis.call('HSET', ak, 'token_sha', sha)
  end
  return {'ok', agent_json(id)}
elseif op == 'delete' then
  local id = ARGV[3]
  local ak = k(P, 'agent', id)
  local cur = hgetall(ak)
  if not cur.id then return {'err', 'not_found', 'no such agent'} end
  local open = redis.call('SCARD', k(P, 'agent', id, 'sessions'))
  if open > 0 then
    return {'err', 'conflict', 'the agent has ' .. open ..
      ' open session(s): transfer or close them (or set the agent offline) first'}
  end
  set_groups(id, cur.groups, '[]')
  if cur.email then redis.call('DEL', k(P, 'agent_email', cur.email)) end
  if cur.token_sha and cur.token_sha ~= '' then
    redis.call('DEL', k(P, 'agent_token', cur.token_sha))
  end
  -- its cookie sessions and password link end with it (auth.lua's keys)
  for _, sha in ipairs(redis.call('SMEMBERS', k(P, 'agent', id, 'auth'))) do
    redis.call('DEL', k(P, 'auth', 'ses', sha))
  end
  if cur.link_sha then redis.call('DEL', k(P, 'auth', 'link', cur.link_sha)) end
  redis.call('DEL', k(P, 'agent', id, 'auth'))
  redis.call('SREM', k(P, 'agents'), id)
  redis.call('SREM', k(P, 'online'), id)
  redis.call('DEL', ak, k(P, 'agent', id, 'sessions'), k(P, 'agent', id, 'read'))
  return {'ok'}
elseif op == 'token' then
  local id, sha = ARGV[3], ARGV[4]
  local ak = k(P, 'agent', id)
  local old = redis.call('HGET', ak, 'token_sha')
  if not redis.call('HGET', ak, 'id') then return {'err', 'not_found', 'no such agent'} end
  if old and old ~= '' then redis.call('DEL', k(P, 'agent_token', old)) end
  redis.call('HSET', ak, 'token_sha', sha)
  if sha ~= '' then redis.call('SET', k(P, 'agent_token', sha), id) end
  return {'ok', agent_json(id)}
elseif op == 'get' then
  local j = agent_json(ARGV[3])
  if not j then return {'err', 'not_found', 'no such agent'} end
  return {'ok', j}
elseif op == 'list' then
  local out = {'ok'}
  local ids = redis.call('SMEMBERS', k(P, 'agents'))
  table.sort(ids)
  for _, id in ipairs(ids) do
    local j = agent_json(id)
    if j then out[#out + 1] = j end
  end
  return out
elseif op == 'auth' then
  local id = redis.call('GET', k(P, 'agent_token', ARGV[3]))
  local a = id and redis.call('HMGET', k(P, 'agent', id), 'id', 'role', 'groups', 'allowed_ips')
  if not a or not a[1] then return {'err', 'not_found', 'unknown token'} end
  return {'ok', a[1], a[2] or 'agent', a[3] or '[]', a[4] or '[]'}
end
return {'err', 'internal', 'agents.lua: unknown op ' .. tostring(op)}
