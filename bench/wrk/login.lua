-- POST /v1/auth/login, cycling over PROTEKT_BENCH_ACCOUNTS existing users bench0@… (every
-- request costs one argon2id verification). Distinct accounts, as real traffic is: the
-- per-account throttle counts each sign-in, so one account signed in 64 times at once is
-- (rightly) refused past its burst.
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
local accounts = tonumber(os.getenv("PROTEKT_BENCH_ACCOUNTS"))
local password = os.getenv("PROTEKT_BENCH_PASSWORD")
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
function request()
  n = n + 1
  local email = "bench" .. ((n * 2 + tid) % accounts) .. "@example.com"
  return wrk.format("POST", "/v1/auth/login", common.headers,
    '{"email":"' .. email .. '","password":"' .. password .. '"}')
end
