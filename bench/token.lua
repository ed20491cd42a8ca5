-- wrk script: POST /o/token/ (the city's OpenID provider).
-- wrk -s bench/token.lua URL -- <lines file> <random|once> <wrk threads>
-- Each line is "<Authorization header>\t<form body>" (bench/oidc.py writes them). "random": any line,
-- as often as it comes (client credentials); "once": each line at most once, the threads taking
-- every n-th line (an authorization code can be exchanged only once).
-- done() prints one line "BENCH_JSON {...}" for bench/oidc.py (the shape of bench/run.py's).

threads = {}  -- global: report.lua's done() reads it

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local lines = {}
local mode = "random"
local nthreads = 1
local next_index = 0

function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t", 1, true)
    lines[#lines + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
  end
  mode = args[2] or "random"
  nthreads = tonumber(args[3] or "1") or 1
  next_index = tid
  math.randomseed(os.time() + tid * 7919)
end

function request()
  local t
  if mode == "once" then
    -- threads interleave: thread k of n takes lines k, k + n, k + 2n …
    t = lines[((next_index - 1) % #lines) + 1]
    next_index = next_index + nthreads
  else
    t = lines[math.random(#lines)]
  end
  return wrk.format("POST", "/o/token/", {
    ["Authorization"] = t[1],
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, t[2])
end

expected = 200
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
