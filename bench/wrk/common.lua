-- Shared by the Protekt wrk scripts: JSON POSTs with the project's API key from the environment.
local M = {}
M.headers = {
  ["Content-Type"] = "application/json",
  ["X-Api-Key"] = os.getenv("PROTEKT_API_KEY"),
}
return M
