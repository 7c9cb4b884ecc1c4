-- canned.lua: canned responses (core/og_canned.c). Who may see or change
-- which is decided in C (og_canned_may); this script stores, finds and
-- renders. A response is the hash P:canned:<id>: id, shortcut, title, text,
-- scope ("global", "group:<name>" or "agent:<agent id>"), fs / ft / fx (the
-- shortcut, title and text folded by C for search: og_fold.h), created_at,
-- updated_at, created_by. P:canned:sc:<scope> maps each folded shortcut of a
-- scope to its id (a shortcut is unique within its scope) and P:canned:scopes
-- lists the scopes that have responses.
-- ARGV[1] = P, [2] op:
--   "put"    [3] create | update, [4] id, [5] now_iso, [6] actor, [7] the scope it
--            must have now (update: '' = any; it moves only if unchanged since C
--            read it), [8..] field/value pairs among scope, shortcut, fs, title,
--            ft, text, fx -> {'ok', json} | err not_found | err conflict
--            (shortcut taken in the scope, scope full, changed meanwhile)
--   "get"    [3] id -> {'ok', json, scope} | err not_found
--   "delete" [3] id, [4] the scope it must have -> {'ok'} | err not_found | conflict
--   "search" [3] scopes to read (JSON array), [4] '1' to read every group's too,
--            [5] folded query ('' = all), [6] limit
--            -> {'ok', json...}: shortcut-prefix matches first, then title or
--            text matches, each by shortcut
--   "render" [3] id, [4] session id, [5] viewer's agent id ('' none)
--            -> {'ok', text, scope, contact name, email, phone, channel,
--            the session's agent's name, the viewer's name} | err not_found
-- A response's JSON: {"id","shortcut","title","text","scope":"global" |
-- "group:<name>" | "agent","owner_id"|null,"created_at","updated_at","created_by"}.
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]
local PER_SCOPE = 1000 -- responses in one scope: bounds every search

local function ckey(id) return k(P, 'canned', id) end
local function skey(scope) return k(P, 'canned', 'sc', scope) end

local function canned_json(c)
  local owner = c.scope:match('^agent:(.+)$')
  return table.concat({'{"id":', q(c.id), ',"shortcut":', js(c.shortcut), ',"title":',
    js(c.title), ',"text":', js(c.text), ',"scope":', js(owner and 'agent' or c.scope),
    ',"owner_id":', q(owner), ',"created_at":', q(c.created_at), ',"updated_at":',
    q(c.updated_at), ',"created_by":', q(c.created_by), '}'})
end

local function not_found() return {'err', 'not_found', 'no such canned response'} end

if op == 'put' then
  local mode, id, now_iso, actor, expect = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  local f = {}
  for i = 8, #ARGV, 2 do f[ARGV[i]] = ARGV[i + 1] end
  local cur = hgetall(ckey(id))
  if mode == 'update' then
    if not cur.id then return not_found() end
    if expect ~= '' and cur.scope ~= expect then
      return {'err', 'conflict', 'the canned response changed meanwhile; try again'}
    end
  else
    cur = {id = id, created_at = now_iso, created_by = actor}
  end
  local scope, fs = f.scope or cur.scope, f.fs or cur.fs
  local owner = redis.call('HGET', skey(scope), fs)
  if owner and owner ~= id then
    return {'err', 'conflict', 'the shortcut is taken in this scope'}
  end
  if not owner and redis.call('HLEN', skey(scope)) >= PER_SCOPE then
    return {'err', 'conflict', 'the scope has ' .. PER_SCOPE .. ' canned responses already'}
  end
  if cur.scope then redis.call('HDEL', skey(cur.scope), cur.fs) end
  if cur.scope and redis.call('EXISTS', skey(cur.scope)) == 0 then
    redis.call('SREM', k(P, 'canned', 'scopes'), cur.scope)
  end
  redis.call('HSET', skey(scope), fs, id)
  redis.call('SADD', k(P, 'canned', 'scopes'), scope)
  local pairs_ = {'id', id, 'created_at', cur.created_at, 'created_by', cur.created_by,
    'updated_at', now_iso}
  for name, v in pairs(f) do pairs_[#pairs_ + 1] = name; pairs_[#pairs_ + 1] = v end
  redis.call('HSET', ckey(id), unpack(pairs_))
  return {'ok', canned_json(hgetall(ckey(id)))}
elseif op == 'get' then
  local c = hgetall(ckey(ARGV[3]))
  if not c.id then return not_found() end
  return {'ok', canned_json(c), c.scope}
elseif op == 'delete' then
  local id, expect = ARGV[3], ARGV[4]
  local c = redis.call('HMGET', ckey(id), 'id', 'scope', 'fs')
  if not c[1] then return not_found() end
  if c[2] ~= expect then
    return {'err', 'conflict', 'the canned response changed meanwhile; try again'}
  end
  redis.call('HDEL', skey(c[2]), c[3])
  if redis.call('EXISTS', skey(c[2])) == 0 then
    redis.call('SREM', k(P, 'canned', 'scopes'), c[2])
  end
  redis.call('DEL', ckey(id))
  return {'ok'}
elseif op == 'search' then
  local scopes, all_groups, query, limit = cjson.decode(ARGV[3]), ARGV[4] == '1', ARGV[5],
    tonumber(ARGV[6])
  if all_groups then
    for _, s in ipairs(redis.call('SMEMBERS', k(P, 'canned', 'scopes'))) do
      if s:sub(1, 6) == 'group:' then scopes[#scopes + 1] = s end
    end
  end
  local hits, seen = {}, {}
  local bare = query:sub(1, 1) == '#' and query or ('#' .. query)
  for _, scope in ipairs(scopes) do
    if not seen[scope] then
      seen[scope] = true
      for _, id in ipairs(redis.call('HVALS', skey(scope))) do
        local c = redis.call('HMGET', ckey(id), 'fs', 'ft', 'fx')
        local rank = nil
        if query == '' or (c[1] or ''):sub(1, #bare) == bare then rank = 0
        elseif string.find(c[2] or '', query, 1, true) or string.find(c[3] or '', query, 1, true)
        then rank = 1 end
        if rank and c[1] then hits[#hits + 1] = {rank = rank, fs = c[1], id = id} end
      end
    end
  end
  table.sort(hits, function(a, b)
    if a.rank ~= b.rank then return a.rank < b.rank end
    if a.fs ~= b.fs then return a.fs < b.fs end
    return a.id < b.id
  end)
  local out = {'ok'}
  for i = 1, math.min(#hits, limit) do out[#out + 1] = canned_json(hgetall(ckey(hits[i].id))) end
  return out
elseif op == 'render' then
  local id, sid, viewer = ARGV[3], ARGV[4], ARGV[5]
  local c = redis.call('HMGET', ckey(id), 'text', 'scope')
  if not c[1] then return not_found() end
  local s = redis.call('HMGET', k(P, 'ses', sid), 'id', 'contact_id', 'channel', 'agent_id')
  if not s[1] then return {'err', 'not_found', 'no such session'} end
  local con = redis.call('HMGET', k(P, 'con', s[2] or ''), 'name', 'email', 'phone')
  local function name_of(aid)
    if not aid or aid == '' then return '' end
    return redis.call('HGET', k(P, 'agent', aid), 'name') or ''
  end
  return {'ok', c[1], c[2], con[1] or '', con[2] or '', con[3] or '', s[3] or '',
    name_of(s[4]), name_of(viewer)}
end
return {'err', 'internal', 'canned.lua: unknown op ' .. tostring(op)}
