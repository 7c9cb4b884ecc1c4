-- csat.lua: satisfaction ratings (og_csat.h; the prelude's csat_store).
-- ARGV[1] = P, ARGV[2] = op:
--   "submit" [3] session id [4] score [5] scale [6] comment JSON ('null' for
--            none) [7] now_iso [8] event id [9] who answers (a contact id,
--            or '' for a signed link) [10] now_ms -> {'ok', csat JSON};
--            conflict 'already_rated' when the session has a rating;
--            not_found. Emits csat.submitted {"session","csat"} and writes
--            the timeline's csat entry.
--   "state"  [3] session id -> {'ok', channel, csat JSON or ''}: what the
--            public survey page needs; not_found.
local P, op = ARGV[1], ARGV[2]

if op == 'submit' then
  local sid = ARGV[3]
  local s = hgetall(k(P, 'ses', sid))
  if not s.id then return {'err', 'not_found', 'no such session'} end
  local cj = csat_store(P, sid, s, ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[10]), ARGV[7],
    ARGV[8], ARGV[9])
  if not cj then return {'err', 'conflict', 'already_rated'} end
  return {'ok', cj}
elseif op == 'state' then
  local h = redis.call('HMGET', k(P, 'ses', ARGV[3]), 'id', 'channel', 'csat')
  if not h[1] then return {'err', 'not_found', 'no such session'} end
  return {'ok', h[2] or '', h[3] or ''}
end
return {'err', 'invalid', 'unknown op'}
