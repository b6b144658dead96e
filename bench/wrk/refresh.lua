-- POST /v1/auth/refresh, each connection following its own rotation chain: a request takes a
-- refresh token from this thread's queue and the answer puts the successor back.
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
  thread:set("nthreads", 0)
end
local queue = {}
function init(args)
  local total = tonumber(os.getenv("PROTEKT_BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("PROTEKT_BENCH_TOKENS")) do
    if i % total == tid - 1 then table.insert(queue, line) end
    i = i + 1
  end
end
function request()
  local token = table.remove(queue, 1) or "exhausted"
  return wrk.format("POST", "/v1/auth/refresh", common.headers, '{"refreshToken":"' .. token .. '"}')
end
function response(status, headers, body)
  local next_token = string.match(body, '"refreshToken":"([^"]+)"')
  if next_token then table.insert(queue, next_token) end
end
