-- GET one student by a random id among the loaded ones.
local max_id = tonumber(os.getenv("SRS_BENCH_MAX_ID") or "10000")
local token = os.getenv("SRS_BENCH_TOKEN")
local headers = {}
if token then headers["Authorization"] = "Bearer " .. token end
request = function()
  return wrk.format("GET", "/api/v1/students/" .. math.random(1, max_id), headers)
end
