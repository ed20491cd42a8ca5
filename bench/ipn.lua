-- wrk script: the gateway's IPN calls, GET /api/v1/payments/vnpay/ipn?<signed parameters>, each line
-- of the file once and in order (bench/payment_fixtures.py writes it: first IPNs with repeats of
-- earlier ones mixed in).
-- wrk -s bench/ipn.lua URL -- <lines file> <number of wrk threads>
-- Thread k takes lines k, k+T, k+2T…, so every line is sent once whatever the number of connections.
-- A thread that runs out of lines stops (reported as "exhausted": bench/run.py sizes the file for
-- the run, so that never happens in a measured run).
-- Counts statuses (report.lua) and the answers by RspCode: "00" confirmed, "02" already confirmed,
-- anything else (or no RspCode at all) as "other"; done() adds them to the BENCH_JSON line.

threads = {}  -- global: report.lua's done() reads it

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local paths = {}
local next_line, stride = 1, 1
issued = 0      -- lines sent by this thread
exhausted = 0   -- 1 once this thread ran out of lines
rsp = { ["00"] = 0, ["02"] = 0, other = 0 }
rsp_other = {}  -- the other RspCodes (or "none") and how many
rsp_sample = ""

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  stride = tonumber(args[2] or "1")
  next_line = tid
end

function request()
  if next_line > #paths then
    exhausted = 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")  -- never an IPN again: counted under "other"
  end
  local path = paths[next_line]
  next_line = next_line + stride
  issued = issued + 1
  return wrk.format("GET", path)
end

expected = 200
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")

local count_status = response

function response(status, headers, body)
  count_status(status, headers, body)
  local code = body:match('"RspCode"%s*:%s*"(%w+)"')
  if code == "00" or code == "02" then
    rsp[code] = rsp[code] + 1
  else
    rsp.other = rsp.other + 1
    local key = code or "none"
    rsp_other[key] = (rsp_other[key] or 0) + 1
    if rsp_sample == "" then
      rsp_sample = tostring(status) .. " " .. body:sub(1, 300)
    end
  end
end

function report_extra()
  local sums = { ["00"] = 0, ["02"] = 0, other = 0 }
  local others, lines, stopped, samples = {}, 0, 0, {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("rsp")
    for k, v in pairs(counts) do sums[k] = sums[k] + v end
    for k, v in pairs(thread:get("rsp_other")) do others[k] = (others[k] or 0) + v end
    lines = lines + thread:get("issued")
    stopped = stopped + thread:get("exhausted")
    local s = thread:get("rsp_sample")
    if s ~= "" then
      samples[#samples + 1] = '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('[%c]', ' ') .. '"'
    end
  end
  local other = {}
  for k, v in pairs(others) do other[#other + 1] = string.format('"%s":%d', k, v) end
  return string.format(
    '"ipn":{"lines_sent":%d,"threads_exhausted":%d,"answers":{"00":%d,"02":%d,"other":%d},' ..
    '"other_codes":{%s},"other_samples":[%s]}',
    lines, stopped, sums["00"], sums["02"], sums.other, table.concat(other, ","), table.concat(samples, ","))
end
