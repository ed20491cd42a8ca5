-- wrk script: GET random lines "<bearer token>\t<path>" with the token (back-office reads).
-- wrk -s bench/get_auth.lua URL -- <lines file>
-- done() prints one line "BENCH_JSON {...}" for bench/run.py.

threads = {}  -- global: report.lua's done() reads it

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local lines = {}

function init(args)
  for line in io.lines(args[1]) do
    local a = line:find("\t", 1, true)
    lines[#lines + 1] = { line:sub(1, a - 1), line:sub(a + 1) }
  end
  math.randomseed(os.time() + tid * 7919)
end

function request()
  local t = lines[math.random(#lines)]
  return wrk.format("GET", t[2], { ["Authorization"] = "Bearer " .. t[1] })
end

expected = 200
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
