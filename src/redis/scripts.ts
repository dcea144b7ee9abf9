/**
 * The two Lua scripts of RedisBroker's history. A script runs atomically, so each publish takes
 * the next offset, stores the message and publishes it as one step: two servers publishing on one
 * topic get one order, the same in the stream and on the channel.
 *
 * Keys per topic: a stream (entries with ID `<offset>-0`, fields f = '0' text | '1' binary,
 * t = Redis time in ms, d = payload) and a hash beside it (epoch, last offset). A hash that is
 * missing — a new topic, or a Redis that restarted without persistence — gets the epoch the
 * caller drew, so a position from before can never be taken for one of the new history.
 *
 * What the channel carries (version 2; version 1 is a message without history, broker.ts):
 *   byte 0   2
 *   byte 1   '0' text, '1' binary
 *   ASCII    <epoch>:<offset>\n
 *   rest     the payload as published
 */

/**
 * KEYS: stream, meta. ARGV: epoch to use if none, size, ttl ms (0: none), channel, then a flag and
 * a payload for each message (a batch: the publishes of one topic in one turn of the event loop).
 * Returns the epoch and the first message's offset; the others follow it, in order.
 */
export const APPEND = `
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'last', 0)
end
local n = (#ARGV - 4) / 2
local first = redis.call('HINCRBY', KEYS[2], 'last', n) - n + 1
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 0, n - 1 do
  local flag = ARGV[5 + 2 * i]
  local data = ARGV[6 + 2 * i]
  local id = string.format('%d', first + i)
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], id .. '-0', 'f', flag, 't', now, 'd', data)
  redis.call('PUBLISH', ARGV[4], '\\2' .. flag .. epoch .. ':' .. id .. '\\n' .. data)
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  -- Time trimming, bounded work per batch: drop the expired head (up to 100 entries a time).
  local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 100)
  local keep = nil
  for _, e in ipairs(head) do
    if tonumber(e[2][4]) >= now - ttl then keep = e[1] break end
  end
  if keep then redis.call('XTRIM', KEYS[1], 'MINID', keep) end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {epoch, first}
`;

/**
 * KEYS: stream, meta. ARGV: epoch to use if none, since epoch ('' for none), since offset, ttl ms.
 * Returns epoch, last, then offset, flag, payload for each entry a subscriber at `since` missed
 * (every entry kept when `since` is of another epoch), expired ones left out.
 */
export const READ = `
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('HSET', KEYS[2], 'epoch', epoch, 'last', 0)
end
local out = {epoch, redis.call('HGET', KEYS[2], 'last')}
if ARGV[2] == '' then return out end
local after = 0
if ARGV[2] == epoch then after = tonumber(ARGV[3]) end
local cutoff = -1
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  local t = redis.call('TIME')
  cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - ttl
end
for _, e in ipairs(redis.call('XRANGE', KEYS[1], string.format('%d-0', after + 1), '+')) do
  if tonumber(e[2][4]) >= cutoff then
    table.insert(out, string.match(e[1], '^(%d+)'))
    table.insert(out, e[2][2])
    table.insert(out, e[2][6])
  end
end
return out
`;
