-- goals.lua: chat goals (og_goals.h), the steps of og_goals.c. A channel's
-- goal is P:goal:<ch> (event, days, src = config | api, updated_at,
-- updated_by); what a session measures, and how, is the prelude's
-- (goal_start, goal_end, goal_reopen, goal_json).
-- ARGV[1] = P, ARGV[2] = op:
--   "sync"  [3] JSON {"<channel>":{"event":E,"days":D} | false} for every
--           configured channel (false: the file sets no goal), [4] now_iso
--           -> {'ok'}: the file's goals are written; a goal the file set
--           before and no longer sets is removed; goals set through the API
--           stay
--   "get"   [3] channel -> {'ok', event, days, src, updated_at} ('' = no goal)
--   "put"   [3] channel, [4] event ('' = none), [5] days, [6] now_iso, [7] by
--           (an agent id or 'admin') -> {'ok'} | err conflict (the config sets
--           this channel's goal). Sessions already measured keep theirs.
--   "event" [3] contact id, [4] name, [5] now_ms, [6] now_iso, [7] event id
--           seed, [8] who reports it (an agent id or 'admin') -> {'ok', session
--           id...}: the contact's sessions whose open window this event
--           achieves | err not_found (no such contact)
local P, op = ARGV[1], ARGV[2]

local B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
local function eid_n(base, i)
  local a, b = math.floor(i / 32) % 32 + 1, i % 32 + 1
  return base:sub(1, #base - 2) .. B32:sub(a, a) .. B32:sub(b, b)
end

if op == 'sync' then
  for ch, g in pairs(cjson.decode(ARGV[3])) do
    local gk = k(P, 'goal', ch)
    local cur = redis.call('HMGET', gk, 'event', 'days', 'src')
    if g then
      if cur[3] ~= 'config' or cur[1] ~= g.event or tonumber(cur[2]) ~= g.days then
        redis.call('DEL', gk)
        redis.call('HSET', gk, 'event', g.event, 'days', string.format('%d', g.days), 'src',
          'config', 'updated_at', ARGV[4], 'updated_by', 'config')
      end
    elseif cur[3] == 'config' then
      redis.call('DEL', gk)
    end
  end
  return {'ok'}
elseif op == 'get' then
  local g = redis.call('HMGET', k(P, 'goal', ARGV[3]), 'event', 'days', 'src', 'updated_at')
  return {'ok', g[1] or '', g[2] or '', g[3] or '', g[4] or ''}
elseif op == 'put' then
  local gk = k(P, 'goal', ARGV[3])
  if redis.call('HGET', gk, 'src') == 'config' then
    return {'err', 'conflict', "this channel's goal is set in the configuration file " ..
      '(channels[].goal): change it there'}
  end
  redis.call('DEL', gk)
  if ARGV[4] ~= '' then
    redis.call('HSET', gk, 'event', ARGV[4], 'days', ARGV[5], 'src', 'api', 'updated_at',
      ARGV[6], 'updated_by', ARGV[7])
  end
  return {'ok'}
elseif op == 'event' then
  local cid, name, now_ms, now_iso = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
  if redis.call('HEXISTS', k(P, 'con', cid), 'id') == 0 then
    return {'err', 'not_found', 'no such contact'}
  end
  local out, n = {'ok'}, 0
  local ck = k(P, 'con', cid, 'goals')
  for _, sid in ipairs(redis.call('SMEMBERS', ck)) do
    local s = hgetall(k(P, 'ses', sid))
    if goal_open(s, now_ms, name) then
      goal_end(P, sid, s, 'achieved', now_iso, eid_n(ARGV[7], n), tl_by(P, ARGV[8]), 'event')
      n = n + 1
      out[#out + 1] = sid
    elseif s.g_st ~= 'in_process' or s.g_new == '1' then
      redis.call('SREM', ck, sid) -- no longer measured (the window timer removes the rest)
    end
  end
  return out
end
return {'err', 'internal', 'goals.lua: unknown op ' .. tostring(op)}
