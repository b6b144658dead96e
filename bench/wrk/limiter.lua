-- POST /v1/auth/verify-email with a wrong token on behalf of one end user (X-Client-Ip): past
-- the first 30 every answer is 429, so each request is little more than one count by the rate
-- limiter. Compared across backends (memory, database, Redis) it shows what a count costs.
package.path = package.path .. ";" .. os.getenv("PROTEKT_WRK_DIR") .. "/?.lua"
local common = require("common")
wrk.method = "POST"
wrk.path = "/v1/auth/verify-email"
wrk.headers = common.headers
wrk.headers["X-Client-Ip"] = "192.0.2.1"
wrk.body = '{"token":"not-a-token"}'
