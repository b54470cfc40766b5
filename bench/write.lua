-- write.lua: each request stores a new secret (unique per thread and
-- connection), so every request is a durable, audited create.
local counter = 0
local limit = tonumber(os.getenv("GV_FILL") or "0")

function setup(thread)
  thread:set("prefix", "t" .. tostring(math.random(1, 1e9)))
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

function response(status, headers, body)
  if limit > 0 and counter >= limit then
    wrk.thread:stop()
  end
end
