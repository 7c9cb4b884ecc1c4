-- auth.lua: people's sign-in (core/og_auth.c): passwords on agents, cookie
-- sessions, sign-in rate limits and one-time password links. Everything here
-- is shared by every omnigate instance on this Redis, so a cookie made by one
-- instance works on all, a revoked one stops everywhere at once, and a rate
-- limit counts attempts made at any instance.
--
-- Keys (secrets are never stored, only their hex SHA-256):
--   P:agent:<id> fields pw (argon2id encoded string, salt inside), pw_set_at,
--                       link_sha (the agent's one live password link)
--   P:auth:ses:<sha>    hash   a cookie session: agent, created_ms, abs_ms
--                              (absolute end), last_ms; the key's TTL is the
--                              idle lifetime (refreshed on use, never past abs_ms)
--   P:agent:<id>:auth   set    the agent's cookie sessions (revoke all)
--   P:auth:fail:a:<sha> string failed sign-ins for one account (sha of the
--                              lower-cased e-mail), TTL = the window
--   P:auth:fail:ip:<ip> string failed sign-ins from one client address
--   P:auth:link:<sha>   hash   a one-time password link: agent, purpose
--                              (invite | reset), created_at; TTL = its lifetime
--
-- ARGV[1] = P, ARGV[2] = op:
--   "begin"   [3] account sha, [4] ip, [5] account max, [6] ip max, [7] e-mail
--             -> {'ok', retry_after_ms (0 = go on), agent id or '', pw or ''}
--   "fail"    [3] account sha ('' = none), [4] ip, [5] window ms -> {'ok'}
--   "login"   [3] agent id, [4] session sha, [5] now ms, [6] idle ms,
--             [7] absolute ms, [8] account sha -> {'ok'} | err auth (the agent
--             went away meanwhile)
--   "session" [3] session sha, [4] now ms, [5] idle ms, [6] refresh ms
--             -> {'ok', id, role, groups JSON, allowed_ips JSON} | err auth
--   "logout"  [3] session sha -> {'ok', 1 | 0}
--   "revoke"  [3] agent id -> {'ok', sessions revoked}
--   "pw_set"  [3] agent id, [4] encoded hash, [5] now iso -> {'ok', revoked} |
--             err not_found
--   "link"    [3] agent id, [4] link sha, [5] purpose, [6] ttl ms, [7] now iso
--             -> {'ok'} | err not_found
--   "link_use" [3] link sha, [4] encoded hash, [5] now iso -> {'ok', agent id}
--             | err not_found (unknown, used or expired)
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]

local function ses_key(sha) return k(P, 'auth', 'ses', sha) end

-- Ends every cookie session of an agent; returns how many there were.
local function revoke_all(id)
  local set = k(P, 'agent', id, 'auth')
  local n = 0
  for _, sha in ipairs(redis.call('SMEMBERS', set)) do
    n = n + redis.call('DEL', ses_key(sha))
  end
  redis.call('DEL', set)
  return n
end

local function set_pw(id, encoded, now_iso)
  redis.call('HSET', k(P, 'agent', id), 'pw', encoded, 'pw_set_at', now_iso)
  return revoke_all(id)
end

if op == 'begin' then
  local acct, ip, amax, imax, email = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
  local wait = 0
  local function over(key, max)
    local n = tonumber(redis.call('GET', key) or '0')
    if n >= max then
      local ttl = redis.call('PTTL', key)
      if ttl > wait then wait = ttl end
    end
  end
  over(k(P, 'auth', 'fail', 'a', acct), amax)
  over(k(P, 'auth', 'fail', 'ip', ip), imax)
  if wait > 0 then return {'ok', wait, '', ''} end
  local id = redis.call('GET', k(P, 'agent_email', email)) or ''
  local pw = ''
  if id ~= '' then pw = redis.call('HGET', k(P, 'agent', id), 'pw') or '' end
  return {'ok', 0, id, pw}
elseif op == 'fail' then
  local acct, ip, window = ARGV[3], ARGV[4], tonumber(ARGV[5])
  local function bump(key)
    if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, window) end
  end
  if acct ~= '' then bump(k(P, 'auth', 'fail', 'a', acct)) end
  bump(k(P, 'auth', 'fail', 'ip', ip))
  return {'ok'}
elseif op == 'login' then
  local id, sha, now = ARGV[3], ARGV[4], tonumber(ARGV[5])
  local idle, abs, acct = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
  if not redis.call('HGET', k(P, 'agent', id), 'id') then
    return {'err', 'auth', 'wrong e-mail or password'}
  end
  local sk = ses_key(sha)
  redis.call('HSET', sk, 'agent', id, 'created_ms', now, 'abs_ms', now + abs, 'last_ms', now)
  redis.call('PEXPIRE', sk, math.min(idle, abs))
  local set = k(P, 'agent', id, 'auth')
  -- sessions that expired by themselves leave their sha in the set: prune
  -- a few on each sign-in so the set stays as small as the live sessions
  for _, old in ipairs(redis.call('SRANDMEMBER', set, 8)) do
    if redis.call('EXISTS', ses_key(old)) == 0 then redis.call('SREM', set, old) end
  end
  redis.call('SADD', set, sha)
  redis.call('DEL', k(P, 'auth', 'fail', 'a', acct))
  return {'ok'}
elseif op == 'session' then
  local sha, now, idle, refresh = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
  local sk = ses_key(sha)
  local s = redis.call('HMGET', sk, 'agent', 'abs_ms', 'last_ms')
  if not s[1] then return {'err', 'auth', 'not signed in, or the session expired'} end
  local abs, last = tonumber(s[2]) or 0, tonumber(s[3]) or 0
  local a = redis.call('HMGET', k(P, 'agent', s[1]), 'id', 'role', 'groups', 'allowed_ips')
  if now >= abs or not a[1] then
    redis.call('DEL', sk)
    redis.call('SREM', k(P, 'agent', s[1], 'auth'), sha)
    return {'err', 'auth', 'not signed in, or the session expired'}
  end
  -- the idle lifetime restarts with use; refreshed at most once per
  -- refresh period so that a busy page does not write on every request
  if now - last >= refresh then
    redis.call('HSET', sk, 'last_ms', now)
    redis.call('PEXPIRE', sk, math.min(idle, abs - now))
  end
  return {'ok', a[1], a[2] or 'agent', a[3] or '[]', a[4] or '[]'}
elseif op == 'logout' then
  local sha = ARGV[3]
  local id = redis.call('HGET', ses_key(sha), 'agent')
  if id then redis.call('SREM', k(P, 'agent', id, 'auth'), sha) end
  return {'ok', redis.call('DEL', ses_key(sha))}
elseif op == 'revoke' then
  return {'ok', revoke_all(ARGV[3])}
elseif op == 'pw_set' then
  local id = ARGV[3]
  if not redis.call('HGET', k(P, 'agent', id), 'id') then
    return {'err', 'not_found', 'no such agent'}
  end
  return {'ok', set_pw(id, ARGV[4], ARGV[5])}
elseif op == 'link' then
  local id, sha, purpose, ttl, now_iso = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6]), ARGV[7]
  local ak = k(P, 'agent', id)
  if not redis.call('HGET', ak, 'id') then return {'err', 'not_found', 'no such agent'} end
  -- one live link per agent: a new one replaces the last
  local old = redis.call('HGET', ak, 'link_sha')
  if old then redis.call('DEL', k(P, 'auth', 'link', old)) end
  local lk = k(P, 'auth', 'link', sha)
  redis.call('HSET', lk, 'agent', id, 'purpose', purpose, 'created_at', now_iso)
  redis.call('PEXPIRE', lk, ttl)
  redis.call('HSET', ak, 'link_sha', sha)
  return {'ok'}
elseif op == 'link_use' then
  local sha, encoded, now_iso = ARGV[3], ARGV[4], ARGV[5]
  local lk = k(P, 'auth', 'link', sha)
  local id = redis.call('HGET', lk, 'agent')
  redis.call('DEL', lk)
  if not id or not redis.call('HGET', k(P, 'agent', id), 'id') then
    return {'err', 'not_found', 'this link is unknown, used or expired; ask an admin for a new one'}
  end
  redis.call('HDEL', k(P, 'agent', id), 'link_sha')
  set_pw(id, encoded, now_iso)
  return {'ok', id}
end
return {'err', 'internal', 'auth.lua: unknown op ' .. tostring(op)}
