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
--   "delete" [3] id, [4] now_iso -> {"ok"} | err (conflict while it has open
--            sessions). A soft delete: the agent leaves routing (P:agents, its
--            groups, online), sign-in (e-mail and token indexes, cookie sessions,
--            password, link) and its e-mail is free again, but its record stays
--            as P:agent:<id>:deleted (deleted_at set) for names and statistics.
--   "token"  [3] id, [4] new sha ('' revokes) -> {"ok", json} | err
--   "get"    [3] id -> {"ok", json} | err not_found (a deleted agent is found,
--            with "deleted":true)
--   "list"   [3] '1' to include the deleted agents -> {"ok", json...} (id order)
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

-- The agent's JSON from its record, live or deleted (deleted_at set).
local function agent_json(id)
  local a = hgetall(k(P, 'agent', id))
  if not a.id then a = hgetall(k(P, 'agent', id, 'deleted')) end
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
    ',"password_set_at":', q(a.pw_set_at), ',"created_at":', q(a.created_at), ',"updated_at":', q(a.updated_at),
    ',"deleted":', a.deleted_at and 'true' or 'false', ',"deleted_at":', q(a.deleted_at), '}'})
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
      string.format('%d', ms_of_iso(now_iso)), 'presence_since', now_iso, 'chats', 0, 'nrt', 0,
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
  if f.groups then agent_groups_set(P, id, cur.groups, f.groups) end
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
  local id, now_iso = ARGV[3], ARGV[4]
  local ak = k(P, 'agent', id)
  local cur = hgetall(ak)
  if not cur.id then return {'err', 'not_found', 'no such agent'} end
  local open = redis.call('SCARD', k(P, 'agent', id, 'sessions'))
  if open > 0 then
    return {'err', 'conflict', 'the agent has ' .. open ..
      ' open session(s): transfer or close them (or set the agent offline) first'}
  end
  agent_groups_set(P, id, cur.groups, '[]')
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
  redis.call('DEL', k(P, 'agent', id, 'sessions'), k(P, 'agent', id, 'read'))
  -- the record stays, without its secrets, under a key that sign-in and
  -- routing never read (they look for P:agent:<id>)
  -- its time in the last presence state counts, as a presence change would
  local now_ms = ms_of_iso(now_iso)
  local was, since = cur.presence or 'offline', tonumber(cur.presence_since_ms) or now_ms
  local pk = k(P, 'agent', id, 'presence')
  redis.call('HINCRBY', pk, was, math.max(0, now_ms - since))
  redis.call('HINCRBY', pk, now_iso:sub(1, 10) .. ':' .. was, math.max(0, now_ms - since))
  st_presence(P, id, was, since, now_ms)
  redis.call('HDEL', ak, 'pw', 'pw_set_at', 'token_sha', 'link_sha')
  redis.call('HSET', ak, 'presence', 'offline', 'deleted_at', now_iso, 'updated_at', now_iso)
  redis.call('RENAME', ak, k(P, 'agent', id, 'deleted'))
  redis.call('SADD', k(P, 'agents', 'deleted'), id)
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
  if ARGV[3] == '1' then
    for _, id in ipairs(redis.call('SMEMBERS', k(P, 'agents', 'deleted'))) do ids[#ids + 1] = id end
  end
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
