-- POST /v1/auth/refresh, each connection following its own rotation chain: a request takes a
-- refresh token from this thread's queue and the answer puts the successor back. With
-- PROTEKT_BENCH_OUT set, every new access token is also appended to PROTEKT_BENCH_OUT<thread>
-- (how bench/run.py mints many distinct tokens for verify_many.lua).
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
  thread:set("nthreads", 0)
end
local queue = {}
local out
function init(args)
  local total = tonumber(os.getenv("PROTEKT_BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("PROTEKT_BENCH_TOKENS")) do
    if i % total == tid - 1 then table.insert(queue, line) end
    i = i + 1
  end
  local prefix = os.getenv("PROTEKT_BENCH_OUT")
  if prefix then out = io.open(prefix .. tid, "w") end
end
function request()
  local token = table.remove(queue, 1) or "exhausted"
  return wrk.format("POST", "/v1/auth/refresh", common.headers, '{"refreshToken":"' .. token .. '"}')
end
function response(status, headers, body)
  local next_token = string.match(body, '"refreshToken":"([^"]+)"')
  if next_token then table.insert(queue, next_token) end
  if out then
    local access = string.match(body, '"accessToken":"([^"]+)"')
    if access then out:write(access, "\n"); out:flush() end
  end
end
