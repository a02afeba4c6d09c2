-- wrk scenarios for the portal benchmarks (see _loadgen.py, which sets these variables):
--   BENCH_MODE    get    : GET BENCH_PATH again and again
--                 bodies : POST BENCH_PATH with the next line of BENCH_BODIES (a fresh captcha each)
--                 flow   : the citizen flow, form -> captcha image -> lookup (one connection per thread)
--   BENCH_COOKIE  Cookie header sent with every request (the session the CSRF token belongs to)
--   BENCH_CHECK   a string every successful response body must contain ("" for status only)
--   BENCH_REJECT  a string no successful response body may contain (the lookup form shown again)
--   BENCH_HARVEST a file prefix: captcha ids seen in responses are written to PREFIX.<thread>
--   BENCH_FLOW_BODY the lookup body of a flow with the captcha id left as %s
-- done() prints one line "BENCHJSON {...}" with the counts and latency percentiles.

local mode = os.getenv("BENCH_MODE") or "get"
local path = os.getenv("BENCH_PATH") or "/"
local cookie = os.getenv("BENCH_COOKIE") or ""
local check = os.getenv("BENCH_CHECK") or ""
local reject = os.getenv("BENCH_REJECT") or ""
local harvest = os.getenv("BENCH_HARVEST") or ""
local flow_body = os.getenv("BENCH_FLOW_BODY") or ""
local id_pattern = 'name="captcha_id"[^>]-value="([^"]+)"'

local threads = {}
local counter = 0

function setup(thread)
   thread:set("index", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   ok, failed, status5xx, flows, harvested, reused = 0, 0, 0, 0, 0, 0
   step, captcha_id = 0, nil
   bodies, next_body = {}, 1
   headers = { ["Cookie"] = cookie }
   if mode == "bodies" then
      -- Thread i takes lines i, i+n, i+2n, ...: no challenge is sent twice.
      local n, i, line_no = tonumber(os.getenv("BENCH_THREADS")), index, 0
      for line in io.lines(os.getenv("BENCH_BODIES")) do
         if line_no % n == i then table.insert(bodies, line) end
         line_no = line_no + 1
      end
   end
   if harvest ~= "" then out = io.open(harvest .. "." .. index, "w"); out:setvbuf("line") end
end

local form_headers = function()
   return { ["Cookie"] = cookie, ["Content-Type"] = "application/x-www-form-urlencoded" }
end

function request()
   if mode == "bodies" then
      local body = bodies[next_body]
      if body == nil then  -- this thread's ids are spent: a reused one fails, and is counted apart
         body = bodies[#bodies]
         reused = reused + 1
      end
      next_body = next_body + 1
      return wrk.format("POST", path, form_headers(), body)
   end
   if mode == "flow" then
      if step == 1 and captcha_id then
         return wrk.format("GET", "/captcha/" .. captcha_id .. ".png", headers)
      elseif step == 2 and captcha_id then
         return wrk.format("POST", "/cek", form_headers(), string.format(flow_body, captcha_id))
      end
      step = 0
      return wrk.format("GET", "/", headers)
   end
   return wrk.format("GET", path, headers)
end

local function good(status, body)
   if status >= 400 then return false end
   if check ~= "" and (body == nil or not string.find(body, check, 1, true)) then return false end
   if reject ~= "" and body ~= nil and string.find(body, reject, 1, true) then return false end
   return true
end

function response(status, headers, body)
   if status >= 500 then status5xx = status5xx + 1 end
   if out and body then
      local id = string.match(body, id_pattern)
      if id then out:write(id, "\n"); harvested = harvested + 1 end
   end
   if mode == "flow" then
      if status ~= 200 then failed = failed + 1; step = 0; return end
      if step == 0 then
         captcha_id = string.match(body, id_pattern)
         step = captcha_id and 1 or 0
         if not captcha_id then failed = failed + 1 else ok = ok + 1 end
      elseif step == 1 then
         ok = ok + 1; step = 2
      else
         if good(status, body) then ok = ok + 1; flows = flows + 1 else failed = failed + 1 end
         step = 0
      end
      return
   end
   if good(status, body) then ok = ok + 1 else failed = failed + 1 end
end

function done(summary, latency, requests)
   local t = { ok = 0, failed = 0, status5xx = 0, flows = 0, harvested = 0, reused = 0 }
   for _, thread in ipairs(threads) do
      for key, _ in pairs(t) do t[key] = t[key] + (thread:get(key) or 0) end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"requests": %d, "duration_s": %.6f, "ok": %d, "failed": %d, "status_5xx": %d, ' ..
      '"flows": %d, "harvested": %d, "reused": %d, "lost": %d, "timeouts": %d, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
      '"mean_ms": %.3f}\n',
      summary.requests, summary.duration / 1e6, t.ok, t.failed, t.status5xx, t.flows, t.harvested, t.reused,
      e.connect + e.read + e.write + e.timeout, e.timeout,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000))
end
