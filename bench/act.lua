-- wrk script: POST each line's request once: "<bearer token>\t<path>\t<JSON body>" (a step to act on).
-- wrk -s bench/act.lua URL -- <lines file> <number of wrk threads>
-- Thread k takes lines k, k+T, k+2T…; a thread that runs out repeats its last line (answered 409 and
-- counted as an error: bench/run.py sizes the file for the run). done() prints "BENCH_JSON {...}".

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local lines = {}
local next_line, stride = 1, 1
statuses = {}
sample = ""

function init(args)
  for line in io.lines(args[1]) do
    local a = line:find("\t", 1, true)
    local b = line:find("\t", a + 1, true)
    lines[#lines + 1] = { line:sub(1, a - 1), line:sub(a + 1, b - 1), line:sub(b + 1) }
  end
  stride = tonumber(args[2] or "1")
  next_line = tid
end

function request()
  local t = lines[math.min(next_line, #lines)]
  next_line = next_line + stride
  return wrk.format("POST", t[2], {
    ["Authorization"] = "Bearer " .. t[1],
    ["Content-Type"] = "application/json",
  }, t[3])
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status ~= 200 and sample == "" then
    sample = key .. " " .. body:sub(1, 400)
  end
end

local function jstr(s)
  return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('[%c]', ' ') .. '"'
end

function done(summary, latency, requests)
  local merged, samples = {}, {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for k, v in pairs(counts) do merged[k] = (merged[k] or 0) + v end
    local s = thread:get("sample")
    if s ~= "" then samples[#samples + 1] = jstr(s) end
  end
  local st = {}
  for k, v in pairs(merged) do st[#st + 1] = '"' .. k .. '":' .. v end
  local pct = {}
  for _, p in ipairs({ 50, 75, 90, 95, 99, 99.9 }) do
    pct[#pct + 1] = string.format('"%s":%.3f', tostring(p), latency:percentile(p) / 1000)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"bytes":%d,"statuses":{%s},' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non_2xx_3xx":%d,' ..
    '"latency_ms":{"min":%.3f,"mean":%.3f,"max":%.3f,"stdev":%.3f,"percentiles":{%s}},"samples":[%s]}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, table.concat(st, ","),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.min / 1000, latency.mean / 1000, latency.max / 1000, latency.stdev / 1000,
    table.concat(pct, ","), table.concat(samples, ",")))
end
