-- read.lua: audited reads spread over key0..keyN-1 for wrk, so a vault's
-- row cache (256 slots) does not hold every key read.
--   wrk ... URL -- N
local n = 10

function init(args)
  n = tonumber(args[1] or "10")
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
end

function request()
  return wrk.format("GET", "/secrets/key" .. math.random(0, n - 1))
end
