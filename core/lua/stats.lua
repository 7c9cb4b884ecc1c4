-- stats.lua: statistics (og_stats.h), the steps of og_stats.c. The counters
-- themselves are written by the scripts that change the facts (the
-- prelude's st_*); this script reads them, rebuilds them, and keeps the
-- report links.
-- ARGV[1] = P, ARGV[2] = op:
--   "read"  [3] '1' to include agents and groups, [4..] UTC hour numbers (Unix
--           ms / 3600000) -> {'ok', {agent id, presence, since ms, ...}, {group...},
--           {HGETALL of P:st:h:<n>}...} (agents and groups empty when [3] ~= '1')
local P, op = ARGV[1], ARGV[2]

if op == 'read' then
  local ag, groups = {}, {}
  if ARGV[3] == '1' then
    for _, id in ipairs(redis.call('SMEMBERS', k(P, 'agents'))) do
      local h = redis.call('HMGET', k(P, 'agent', id), 'presence', 'presence_since_ms')
      ag[#ag + 1] = id
      ag[#ag + 1] = h[1] or 'offline'
      ag[#ag + 1] = h[2] or ''
    end
    groups = redis.call('HKEYS', k(P, 'groups'))
  end
  local out = {'ok', ag, groups}
  for i = 4, #ARGV do out[#out + 1] = redis.call('HGETALL', P .. ':st:h:' .. ARGV[i]) end
  return out
end
return {'err', 'internal', 'stats.lua: unknown op ' .. tostring(op)}
