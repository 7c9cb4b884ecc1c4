-- groups.lua: agent groups (core/og_groups.c). A group's members are the set
-- P:group:<name>, changed together with each member's "groups" field by
-- agent_groups_set (prelude.lua), the one mechanism agents.lua uses too; so
-- routing.lua, which resolves "group:NAME" members through that set, routes
-- to a group made here at once, and a member's token and cookie carry the
-- group into the access rule. P:groups remembers the groups made here (name
-- -> created_at), so a group may exist before it has members. The groups
-- that exist are those, the ones with members (from agents' own "groups",
-- the config's seeds included) and the ones a routing policy of the config
-- names.
-- ARGV[1] = P, [2] op, [3] the groups each routing policy names
-- ("pol=g1,g2;pol2=*", og_routing_policy_groups), then:
--   "list"                 -> {'ok', json...} (name order)
--   "get"     [4] name     -> {'ok', json} | err not_found
--   "create"  [4] name, [5] now_iso, [6] member ids (JSON array)
--             -> {'ok', json} | err conflict (it exists) | err not_found (an agent)
--   "update"  [4] name, [5] new name ('' = keep), [6] member ids (JSON array, '' =
--             keep), [7] now_iso: both or neither -> {'ok', json} | err not_found
--             (the group, an agent) | err conflict (the new name exists; the
--             config names the group)
--   "members" [4] name, [5] 'set' | 'add' | 'remove', [6] agent ids (JSON array),
--             [7] now_iso -> {'ok', json} | err not_found (the group, an agent)
--   "delete"  [4] name -> {'ok'} | err not_found | err conflict (in use: it has
--             members, a routing policy of the config names it, sessions wait
--             for it, canned responses belong to it)
-- A group's JSON: {"name","members":[{"id","name","presence"}],
-- "routing":[the config's policies that name it],"created_at"|null}.
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]

local policies, named = {}, {} -- policy names; group -> the policies naming it
for pol, gs in string.gmatch(ARGV[3] or '', '([^=;]+)=([^;]*)') do
  policies[#policies + 1] = pol
  for g in string.gmatch(gs, '[^,]+') do
    if g ~= '*' then
      named[g] = named[g] or {}
      table.insert(named[g], pol)
    end
  end
end

local function gkey(name) return k(P, 'group', name) end
local function reg() return k(P, 'groups') end
local function arr(t) return #t == 0 and '[]' or cjson.encode(t) end

local function exists(name)
  return redis.call('HEXISTS', reg(), name) == 1 or redis.call('SCARD', gkey(name)) > 0 or
    named[name] ~= nil
end

local function group_json(name)
  local ids = redis.call('SMEMBERS', gkey(name))
  table.sort(ids)
  local m = {}
  for _, id in ipairs(ids) do
    local a = redis.call('HMGET', k(P, 'agent', id), 'name', 'presence')
    m[#m + 1] = table.concat({'{"id":', q(id), ',"name":', js(a[1]), ',"presence":',
      q(a[2] or 'offline'), '}'})
  end
  return table.concat({'{"name":', js(name), ',"members":[', table.concat(m, ','),
    '],"routing":', arr(named[name] or {}), ',"created_at":', q(redis.call('HGET', reg(), name)),
    '}'})
end

local function not_found() return {'err', 'not_found', 'no such group'} end

-- The agent ids of a JSON array, all of live agents; or nil and the first
-- that is not.
local function agents_of(ids_json)
  local ids = cjson.decode(ids_json)
  for _, id in ipairs(ids) do
    if redis.call('HEXISTS', k(P, 'agent', id), 'id') == 0 then return nil, id end
  end
  return ids
end

-- Puts agent id in the group or takes it out (its "groups" and the set).
local function member(id, name, on, now_iso)
  local ak = k(P, 'agent', id)
  local cur = redis.call('HGET', ak, 'groups') or '[]'
  local out, has = {}, false
  for _, g in ipairs(cjson.decode(cur)) do
    if g == name then has = true else out[#out + 1] = g end
  end
  if has == on then return end
  if on then out[#out + 1] = name end
  agent_groups_set(P, id, cur, arr(out))
  redis.call('HSET', ak, 'updated_at', now_iso)
end

-- Sessions waiting in a queue for the group; with to, they wait for that
-- name instead. (Queues hold the sessions waiting now: a short scan.)
local function waiting(name, to)
  local n = 0
  for _, pol in ipairs(policies) do
    for _, sid in ipairs(redis.call('ZRANGE', k(P, 'queue', pol), 0, -1)) do
      local skey = k(P, 'ses', sid)
      if redis.call('HGET', skey, 'queue_group') == name then
        n = n + 1
        if to then redis.call('HSET', skey, 'queue_group', to, 'group', to) end
      end
    end
  end
  return n
end

-- The members' open sessions handled under the group's name move to the
-- new one (closed sessions keep the name they were handled under).
local function rename_open(ids, name, to)
  for _, id in ipairs(ids) do
    for _, sid in ipairs(redis.call('SMEMBERS', k(P, 'agent', id, 'sessions'))) do
      local skey = k(P, 'ses', sid)
      if redis.call('HGET', skey, 'group') == name then
        redis.call('HSET', skey, 'group', to)
        redis.call('ZREM', k(P, 'idx', 'group', name), sid)
        redis.call('ZADD', k(P, 'idx', 'group', to), 0, sid)
      end
    end
  end
end

-- The group's canned responses (canned.lua's scope index) follow a rename.
local function rename_canned(name, to)
  local from_k, to_k = k(P, 'canned', 'sc', 'group:' .. name), k(P, 'canned', 'sc', 'group:' .. to)
  if redis.call('EXISTS', from_k) == 0 then return end
  for _, id in ipairs(redis.call('HVALS', from_k)) do
    redis.call('HSET', k(P, 'canned', id), 'scope', 'group:' .. to)
  end
  redis.call('RENAME', from_k, to_k)
end

if op == 'list' then
  local names, seen = {}, {}
  local function add(n)
    if not seen[n] then seen[n] = true; names[#names + 1] = n end
  end
  for _, n in ipairs(redis.call('HKEYS', reg())) do add(n) end
  for n in pairs(named) do add(n) end
  for _, id in ipairs(redis.call('SMEMBERS', k(P, 'agents'))) do
    for _, g in ipairs(cjson.decode(redis.call('HGET', k(P, 'agent', id), 'groups') or '[]')) do
      add(g)
    end
  end
  table.sort(names)
  local out = {'ok'}
  for _, n in ipairs(names) do out[#out + 1] = group_json(n) end
  return out
elseif op == 'get' then
  if not exists(ARGV[4]) then return not_found() end
  return {'ok', group_json(ARGV[4])}
elseif op == 'create' then
  local name, now_iso = ARGV[4], ARGV[5]
  if exists(name) then return {'err', 'conflict', 'a group with this name exists'} end
  local ids, bad = agents_of(ARGV[6])
  if not ids then return {'err', 'not_found', 'no such agent ' .. bad} end
  redis.call('HSET', reg(), name, now_iso)
  for _, id in ipairs(ids) do member(id, name, true, now_iso) end
  return {'ok', group_json(name)}
elseif op == 'update' then
  local name, to, members, now_iso = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
  if not exists(name) then return not_found() end
  local renaming = to ~= '' and to ~= name
  if renaming and named[name] then
    return {'err', 'conflict', 'the routing policy "' .. named[name][1] ..
      '" of the configuration names group:' .. name .. '; rename it there'}
  end
  if renaming and exists(to) then
    return {'err', 'conflict', 'a group with the new name exists'}
  end
  local ids, bad = {}, nil
  if members ~= '' then
    ids, bad = agents_of(members)
    if not ids then return {'err', 'not_found', 'no such agent ' .. bad} end
    local keep = {}
    for _, id in ipairs(ids) do keep[id] = true end
    for _, id in ipairs(redis.call('SMEMBERS', gkey(name))) do
      if not keep[id] then member(id, name, false, now_iso) end
    end
    for _, id in ipairs(ids) do member(id, name, true, now_iso) end
  end
  if redis.call('HEXISTS', reg(), name) == 0 then redis.call('HSET', reg(), name, now_iso) end
  if not renaming then return {'ok', group_json(name)} end
  ids = redis.call('SMEMBERS', gkey(name))
  for _, id in ipairs(ids) do
    member(id, name, false, now_iso)
    member(id, to, true, now_iso)
  end
  redis.call('HSET', reg(), to, redis.call('HGET', reg(), name))
  redis.call('HDEL', reg(), name)
  waiting(name, to)
  rename_open(ids, name, to)
  rename_canned(name, to)
  return {'ok', group_json(to)}
elseif op == 'members' then
  local name, how, now_iso = ARGV[4], ARGV[5], ARGV[7]
  if not exists(name) then return not_found() end
  local ids, bad = agents_of(ARGV[6])
  if not ids then return {'err', 'not_found', 'no such agent ' .. bad} end
  if how == 'set' then
    local keep = {}
    for _, id in ipairs(ids) do keep[id] = true end
    for _, id in ipairs(redis.call('SMEMBERS', gkey(name))) do
      if not keep[id] then member(id, name, false, now_iso) end
    end
  end
  for _, id in ipairs(ids) do member(id, name, how ~= 'remove', now_iso) end
  -- a group emptied here still exists: it was made, or is being managed here
  if redis.call('HEXISTS', reg(), name) == 0 then redis.call('HSET', reg(), name, now_iso) end
  return {'ok', group_json(name)}
elseif op == 'delete' then
  local name = ARGV[4]
  if not exists(name) then return not_found() end
  local n = redis.call('SCARD', gkey(name))
  if n > 0 then
    return {'err', 'conflict', 'the group has ' .. n .. ' member(s): remove them first'}
  end
  if named[name] then
    return {'err', 'conflict', 'the routing policy "' .. named[name][1] ..
      '" of the configuration names it'}
  end
  n = redis.call('HLEN', k(P, 'canned', 'sc', 'group:' .. name))
  if n > 0 then
    return {'err', 'conflict', n .. ' canned response(s) belong to the group: move or delete them'}
  end
  n = waiting(name)
  if n > 0 then
    return {'err', 'conflict', n .. ' session(s) wait in the queue for the group'}
  end
  redis.call('HDEL', reg(), name)
  return {'ok'}
end
return {'err', 'internal', 'groups.lua: unknown op ' .. tostring(op)}
