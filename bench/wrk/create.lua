-- POST a new student with a unique, letters-only name per request.
local letters = "abcdefghijklmnopqrstuvwxyz"
local function word(n)
  local s = ""
  repeat
    local d = n % 26
    s = string.sub(letters, d + 1, d + 1) .. s
    n = math.floor(n / 26)
  until n == 0
  return s
end

local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
request = function()
  counter = counter + 1
  local name = "Bench " .. word(tid + 26 * (os.time() % 100000)) .. " " .. word(counter + 26 * 26)
  local body = string.format(
    '{"full_name":"%s","date_of_birth":"2001-02-03","department":"Engineering","confirm_duplicate":true}', name)
  local headers = { ["Content-Type"] = "application/json" }
  local token = os.getenv("SRS_BENCH_TOKEN")
  if token then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", "/api/v1/students", headers, body)
end
