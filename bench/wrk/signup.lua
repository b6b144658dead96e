-- POST /v1/auth/signup with a new address every request.
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
local run = os.getenv("PROTEKT_BENCH_RUN") or "0"
function request()
  n = n + 1
  local body = '{"email":"bench-' .. run .. '-' .. tid .. '-' .. n .. '@example.com","password":"correct-horse-battery-staple"}'
  return wrk.format("POST", "/v1/auth/signup", common.headers, body)
end
