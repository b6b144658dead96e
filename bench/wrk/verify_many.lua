-- POST /v1/auth/verify cycling through many distinct tokens (more than the verified-token cache
-- holds), so most verifications check a signature instead of hitting the cache.
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local tokens = {}
local next_index = 1
function init(args)
  for line in io.lines(os.getenv("PROTEKT_BENCH_MANY") .. tid) do table.insert(tokens, line) end
end
function request()
  local token = tokens[next_index]
  next_index = next_index % #tokens + 1
  return wrk.format("POST", "/v1/auth/verify", common.headers, '{"token":"' .. token .. '"}')
end
