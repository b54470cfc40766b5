-- write.lua: each request stores a new secret (unique per thread and
-- connection), so every request is a durable, audited create.
local counter = 0
local threads = 0

-- Unique per run and per thread, so every request creates a new secret.
function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("t%d-%d-%d", os.time(), math.floor(os.clock() * 1e6),
                                     threads))
end

function request()
  counter = counter + 1
  local path = "/secrets/" .. prefix .. "-" .. counter
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", path, headers,
                    '{"value":"sk-live-0123456789abcdef0123456789","metadata":{"env":"bench"}}')
end
