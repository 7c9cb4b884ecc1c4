-- followups.lua: every Redis step of the e-mail follow-ups (core/og_followups.c).
-- Each op is atomic on its own; the keys are listed in prelude.lua.
--
-- A follow-up is created pending with a due time in P:followups:due. A tick
-- claims due ones by moving their score to now + lease (and counting the
-- attempt), so an instance that dies mid-send leaves them to be claimed
-- again when the lease runs out; "done" records the try and either removes
-- the id (sent, failed, suppressed) or re-schedules it (retry). A result for
-- an attempt that is no longer current (a lease that ran out) is ignored.
--
-- ARGV[1] = P, ARGV[2] = op:
--   closed  sid trigger now_ms now_iso nsched {rule due_ms new_id}*nsched {silent_rule}*
--           -> {'ok', number of follow-ups created} (a trigger seen before creates none)
--   message sid now_ms {rule after_ms}*  -> {'ok'}: re-arms the customer_silent timers
--   claim   now_ms now_iso lease_ms inst limit nrules {rule after_ms}*nrules {new_id}*(20 limit)
--           (inst: the claiming instance, whose leases instances.lua hands back if it dies)
--           -> {'ok', id, attempt, rule, sid, ...} of the claimed follow-ups
--   load    id -> {'ok', session_json, email, name, phone, opt_out, agent_name,
--           msg_json...} | err not_found
--   done    id attempt outcome now_ms now_iso next_due_ms next_due_iso try_json eid to
--           subject error inst
--           outcome: sent | retry | failed | suppressed  -> {'ok', 'done' | 'stale'}
--   list    sid -> {'ok', followup_json...} (oldest first) | err not_found
-- Every op replies {'ok', ...} or {'err', code, message} (og_script.h).
local P, op = ARGV[1], ARGV[2]
local DEDUP_TTL = 8 * 86400

local function fk(id) return k(P, 'followup', id) end

local function create(id, rule, sid, trigger, when, now_iso, due)
  redis.call('HSET', fk(id), 'id', id, 'rule', rule, 'session', sid, 'trigger', trigger,
    'when', when, 'status', 'pending', 'attempts', 0, 'created_at', now_iso, 'due_ms', due)
  redis.call('ZADD', k(P, 'followups', 'due'), due, id)
  redis.call('ZADD', k(P, 'ses', sid, 'followups'), 0, id)
end

local function followup_json(id)
  local f = hgetall(fk(id))
  if not f.id then return nil end
  local tries = redis.call('LRANGE', fk(id) .. ':attempts', 0, -1)
  return table.concat({'{"id":', q(f.id), ',"rule":', js(f.rule), ',"session_id":', q(f.session),
    ',"trigger":', js(f.when), ',"status":', q(f.status), ',"to":', js(f.to),
    ',"subject":', js(f.subject), ',"attempts":', f.attempts or '0',
    ',"created_at":', q(f.created_at), ',"sent_at":', q(f.sent_at),
    ',"failed_at":', q(f.failed_at), ',"next_attempt_at":', q(f.next_attempt_at),
    ',"last_error":', js(f.last_error), ',"tries":[', table.concat(tries, ','), ']}'})
end

local function open_status(st)
  return st and st ~= 'closed' and st ~= 'archived'
end

if op == 'closed' then
  local sid, trigger, now_ms, now_iso = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
  local n, made, i = tonumber(ARGV[7]), 0, 8
  for _ = 1, n do
    local rule, due, id = ARGV[i], ARGV[i + 1], ARGV[i + 2]
    i = i + 3
    if redis.call('SET', k(P, 'fupkey', rule, trigger), id, 'NX', 'EX', DEDUP_TTL) then
      create(id, rule, sid, trigger, 'session.closed', now_iso, due)
      made = made + 1
    end
  end
  -- A closed session is not silent: its silence timers go.
  for j = i, #ARGV do redis.call('ZREM', k(P, 'timers', 'silence'), ARGV[j] .. ':' .. sid) end
  return {'ok', made}

elseif op == 'message' then
  local sid = ARGV[3]
  local s = redis.call('HMGET', k(P, 'ses', sid), 'status', 'last_customer_ms')
  for i = 5, #ARGV, 2 do
    local member = ARGV[i] .. ':' .. sid
    if open_status(s[1]) and s[2] then
      redis.call('ZADD', k(P, 'timers', 'silence'), tonumber(s[2]) + tonumber(ARGV[i + 1]), member)
    else
      redis.call('ZREM', k(P, 'timers', 'silence'), member)
    end
  end
  return {'ok'}

elseif op == 'claim' then
  local now_ms, now_iso, lease, inst = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5]), ARGV[6]
  local limit, nrules = ARGV[7], tonumber(ARGV[8])
  local after = {}
  for i = 9, 8 + 2 * nrules, 2 do after[ARGV[i]] = tonumber(ARGV[i + 1]) end
  local next_id = 9 + 2 * nrules
  local tk = k(P, 'timers', 'silence')
  -- Up to 20 timers per follow-up claimed (one id each, from C), so stale
  -- timers (closed sessions) cannot hold the due ones back.
  local tlimit = tonumber(limit) * 20
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', tk, '-inf', now_ms, 'LIMIT', 0, tlimit)) do
    redis.call('ZREM', tk, member)
    local rule, sid = string.match(member, '^(.*):([^:]*)$')
    local s = rule and redis.call('HMGET', k(P, 'ses', sid), 'status', 'last_customer_ms')
    -- Fires only for a rule still configured, on a session still open and
    -- really silent for the whole period (a late message.received re-arms).
    if rule and after[rule] and open_status(s[1]) and s[2] then
      local due = tonumber(s[2]) + after[rule]
      if due > now_ms then
        redis.call('ZADD', tk, due, member)
      elseif not ARGV[next_id] then
        redis.call('ZADD', tk, now_ms, member) -- out of ids: next tick
      else
        local id = ARGV[next_id]
        local trigger = 'silent:' .. sid .. ':' .. s[2]
        if redis.call('SET', k(P, 'fupkey', rule, trigger), id, 'NX', 'EX', DEDUP_TTL) then
          next_id = next_id + 1
          create(id, rule, sid, trigger, 'customer_silent', now_iso, now_ms)
        end
      end
    end
  end
  local out = {'ok'}
  local dk = k(P, 'followups', 'due')
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', dk, '-inf', now_ms, 'LIMIT', 0, limit)) do
    local f = redis.call('HMGET', fk(id), 'rule', 'session', 'status')
    if not f[1] or f[3] == 'sent' or f[3] == 'failed' or f[3] == 'suppressed' then
      redis.call('ZREM', dk, id)
    else
      lease_hold(P, inst, dk, id, now_ms + lease)
      local attempt = redis.call('HINCRBY', fk(id), 'attempts', 1)
      redis.call('HSET', fk(id), 'status', 'sending', 'claimed_ms', now_ms)
      out[#out + 1] = id; out[#out + 1] = tostring(attempt)
      out[#out + 1] = f[1]; out[#out + 1] = f[2]
    end
  end
  return out

elseif op == 'load' then
  local sid = redis.call('HGET', fk(ARGV[3]), 'session')
  local sj = sid and session_json(P, sid)
  if not sj then return {'err', 'not_found', 'no such follow-up or session'} end
  local s = redis.call('HMGET', k(P, 'ses', sid), 'contact_id', 'agent_id')
  local c = redis.call('HMGET', k(P, 'con', s[1] or ''), 'email', 'name', 'phone',
    'followups_opt_out')
  -- The agent's display name, from the agent store when there is one.
  local agent = ''
  if s[2] and s[2] ~= '' then
    agent = redis.call('HGET', k(P, 'agent', s[2]), 'name') or ''
  end
  local out = {'ok', sj, c[1] or '', c[2] or '', c[3] or '', c[4] or '', agent}
  -- The transcript: the last 200 messages, oldest first.
  for _, mid in ipairs(msgs_call(P, sid, 'ZRANGE', -200, -1)) do
    local mj = message_json(P, mid)
    if mj then out[#out + 1] = mj end
  end
  return out

elseif op == 'done' then
  local id, attempt, outcome = ARGV[3], ARGV[4], ARGV[5]
  local now_iso, next_due, next_iso, try_json = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
  local eid, to, subject, err, inst = ARGV[11], ARGV[12], ARGV[13], ARGV[14], ARGV[15]
  local dk = k(P, 'followups', 'due')
  lease_drop(P, inst, dk, id)
  local f = redis.call('HMGET', fk(id), 'attempts', 'status', 'session')
  if f[1] ~= attempt or f[2] ~= 'sending' then return {'ok', 'stale'} end
  local sid = f[3]
  redis.call('RPUSH', fk(id) .. ':attempts', try_json)
  if to ~= '' then redis.call('HSET', fk(id), 'to', to) end
  if subject ~= '' then redis.call('HSET', fk(id), 'subject', subject) end
  if err ~= '' then redis.call('HSET', fk(id), 'last_error', err) end
  if outcome == 'retry' then
    redis.call('HSET', fk(id), 'status', 'pending', 'next_attempt_at', next_iso)
    redis.call('ZADD', dk, next_due, id)
    return {'ok', 'done'}
  end
  redis.call('ZREM', dk, id)
  redis.call('HDEL', fk(id), 'next_attempt_at')
  if outcome == 'sent' then
    redis.call('HSET', fk(id), 'status', 'sent', 'sent_at', now_iso)
  elseif outcome == 'failed' then
    redis.call('HSET', fk(id), 'status', 'failed', 'failed_at', now_iso)
  else
    redis.call('HSET', fk(id), 'status', 'suppressed')
    return {'ok', 'done'}
  end
  local sj = session_json(P, sid) or 'null'
  emit(P, eid, 'followup.' .. outcome, sid, now_iso,
    '{"followup":' .. followup_json(id) .. ',"session":' .. sj .. '}')
  return {'ok', 'done'}

elseif op == 'list' then
  local sid = ARGV[3]
  if redis.call('EXISTS', k(P, 'ses', sid)) == 0 then
    return {'err', 'not_found', 'no such session'}
  end
  local out = {'ok'}
  for _, id in ipairs(redis.call('ZRANGE', k(P, 'ses', sid, 'followups'), 0, 199)) do
    local j = followup_json(id)
    if j then out[#out + 1] = j end
  end
  return out
end
return {'err', 'internal', 'followups.lua: unknown op ' .. tostring(op)}
