-- POST /v1/auth/verify of one live access token, as a backend's middleware does per request.
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
wrk.method = "POST"
wrk.path = "/v1/auth/verify"
wrk.headers = common.headers
wrk.body = '{"token":"' .. os.getenv("PROTEKT_BENCH_TOKEN") .. '"}'
