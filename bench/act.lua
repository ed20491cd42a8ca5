-- wrk script: POST each line's request once: "<bearer token>\t<path>\t<JSON body>" (a step to act on).
-- wrk -s bench/act.lua URL -- <lines file> <number of wrk threads>
-- Thread k takes lines k, k+T, k+2T…; a thread that runs out repeats its last line (answered 409 and
-- counted as an error: bench/run.py sizes the file for the run). done() prints "BENCH_JSON {...}".

threads = {}  -- global: report.lua's done() reads it

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local lines = {}
local next_line, stride = 1, 1

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

expected = 200
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
