-- What every wrk script of bench/ reports, loaded by each with
--   dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
-- after setting `expected` (the status a request should get, 200 unless said).
-- Counts statuses per thread, keeps one sample of an unexpected answer, and prints one
-- "BENCH_JSON {...}" line (requests, statuses, socket errors, latency percentiles) that
-- bench/run.py reads. A script may define `report_extra()` (called in done(), where the global
-- `threads` holds every thread) returning more members for that object: '"name":value,...'.

expected = expected or 200
statuses = {}
sample = ""

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status ~= expected and sample == "" then
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
  local extra = report_extra and ("," .. report_extra()) or ""
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_s":%.3f,"bytes":%d,"statuses":{%s},' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"non_2xx_3xx":%d,' ..
    '"latency_ms":{"min":%.3f,"mean":%.3f,"max":%.3f,"stdev":%.3f,"percentiles":{%s}},"samples":[%s]%s}\n',
    summary.requests, summary.duration / 1e6, summary.bytes, table.concat(st, ","),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.min / 1000, latency.mean / 1000, latency.max / 1000, latency.stdev / 1000,
    table.concat(pct, ","), table.concat(samples, ","), extra))
end
