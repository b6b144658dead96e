-- POST /v1/auth/login for one existing user (every request costs one argon2id verification).
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
wrk.method = "POST"
wrk.path = "/v1/auth/login"
wrk.headers = common.headers
wrk.body = '{"email":"' .. os.getenv("PROTEKT_BENCH_EMAIL") .. '","password":"' .. os.getenv("PROTEKT_BENCH_PASSWORD") .. '"}'
