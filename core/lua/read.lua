-- read.lua: the read API's queries, rendered with the prelude's JSON
-- renderers so the API and the events show one shape. Read-only.
-- ARGV[1] = P, ARGV[2] = op:
--   "session"  ARGV[3] = id                      -> json or nil
--   "sessions" ARGV[3] = status, [4] = channel, [5] = cursor, [6] = limit
--              -> {next_cursor or '', json...}   (newest first)
--   "messages" ARGV[3] = session id, [4] = cursor, [5] = limit
--              -> {next_cursor or '', json...}   (oldest first), or nil if no session
local P, op = ARGV[1], ARGV[2]
if op == 'session' then
  return session_json(P, ARGV[3])
elseif op == 'sessions' then
  local status, chan, cursor, limit = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
  local base
  if status ~= '' then base = k(P, 'idx', 'st', status)
  elseif chan ~= '' then base = k(P, 'idx', 'ch', chan)
  else base = k(P, 'idx', 'all') end
  local need_chan = (status ~= '' and chan ~= '')
  local out = {''}
  local max = cursor ~= '' and ('(' .. cursor) or '+'
  -- Scan a bounded number of ids per call so a sparse filter cannot block
  -- Redis; the cursor then points where the scan stopped.
  local budget, last = math.max(limit * 10, 1000), nil
  while budget > 0 do
    local ids = redis.call('ZREVRANGEBYLEX', base, max, '-', 'LIMIT', 0, 200)
    if #ids == 0 then last = nil; break end
    for _, id in ipairs(ids) do
      budget = budget - 1
      if not need_chan or redis.call('HGET', k(P, 'ses', id), 'channel') == chan then
        out[#out + 1] = session_json(P, id)
      end
      last = id
      if #out - 1 == limit or budget == 0 then break end
    end
    if #out - 1 == limit then break end
    max = '(' .. last
  end
  if last and (#out - 1 == limit or budget == 0) then
    -- more may follow: only when something is left after 'last'
    if #redis.call('ZREVRANGEBYLEX', base, '(' .. last, '-', 'LIMIT', 0, 1) > 0 then out[1] = last end
  end
  return out
elseif op == 'messages' then
  local sid, cursor, limit = ARGV[3], ARGV[4], tonumber(ARGV[5])
  if redis.call('EXISTS', k(P, 'ses', sid)) == 0 then return nil end
  local min = cursor ~= '' and ('(' .. cursor) or '-'
  local ids = redis.call('ZRANGEBYLEX', k(P, 'ses', sid, 'msgs'), min, '+', 'LIMIT', 0, limit + 1)
  local out = {''}
  for i = 1, math.min(#ids, limit) do out[#out + 1] = message_json(P, ids[i]) end
  if #ids > limit then out[1] = ids[limit] end
  return out
end
return redis.error_reply('read.lua: unknown op')
