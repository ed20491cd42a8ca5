-- wrk script: GET random paths from a file (one a line), e.g. /api/v1/tracking/<code>?secret=<s>.
-- wrk -s bench/tracking.lua URL -- <paths file> [nocount]
-- By default every status is counted (response callback); "nocount" drops the callback so wrk
-- does not hand each response to Lua (then only wrk's own non-2xx/3xx counter is left).
-- done() prints one line "BENCH_JSON {...}" for bench/run.py.

threads = {}  -- global: report.lua's done() reads it

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local paths = {}

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  math.randomseed(os.time() + tid * 7919)
  if args[2] == "nocount" then
    response = nil
  end
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end

expected = 200
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
