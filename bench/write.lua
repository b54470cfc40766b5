-- write.lua: durable, audited writes for wrk.
--   wrk ... URL -- create [M]    every request stores a new secret; with M, each
--                                thread stops after M answers (overshoot <= conns)
--   wrk ... URL -- update N      every request overwrites one of key0..keyN-1
local counter = 0
local threads = 0
local mode = "create"
local nkeys = 10
local limit = 0
local answered = 0

-- Unique per run and per thread, so creates never collide.
function setup(thread)
  threads = threads + 1
  thread:set("prefix", string.format("t%d-%d-%d", os.time(), math.floor(os.clock() * 1e6),
                                     threads))
end

function init(args)
  mode = args[1] or "create"
  nkeys = tonumber(args[2] or "10")
  if mode == "create" then
    limit = tonumber(args[2] or "0")
  end
  if limit > 0 then -- only then pay for a Lua call per answer
    response = function(status, headers, body)
      answered = answered + 1
      if answered >= limit then
        wrk.thread:stop()
      end
    end
  end
end

function request()
  counter = counter + 1
  local path
  if mode == "update" then
    path = "/secrets/key" .. (counter % nkeys)
  else
    path = "/secrets/" .. prefix .. "-" .. counter
  end
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", path, headers,
                    '{"value":"sk-live-0123456789abcdef0123456789","metadata":{"env":"bench"}}')
end
