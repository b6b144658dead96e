-- Mints many distinct access tokens by following refresh chains (as refresh.lua does) and
-- appends each new access token to PROTEKT_BENCH_OUT<thread>, for verify_many.lua.
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
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
  out = io.open(os.getenv("PROTEKT_BENCH_OUT") .. tid, "w")
end
function request()
  local token = table.remove(queue, 1) or "exhausted"
  return wrk.format("POST", "/v1/auth/refresh", common.headers, '{"refreshToken":"' .. token .. '"}')
end
function response(status, headers, body)
  local next_token = string.match(body, '"refreshToken":"([^"]+)"')
  if next_token then table.insert(queue, next_token) end
  local access = string.match(body, '"accessToken":"([^"]+)"')
  if access then out:write(access, "\n"); out:flush() end
end
