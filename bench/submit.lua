-- wrk script: POST /api/v1/dossiers with a unique Idempotency-Key per request.
-- wrk -s bench/submit.lua URL -- <run id> <templates file>
-- Each line of the templates file is "<bearer token>\t<JSON body>" (bench/fixtures.py writes it).
-- Counts every status; done() prints one line "BENCH_JSON {...}" for bench/run.py.

threads = {}  -- global: report.lua's done() reads it

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local templates = {}
local counter = 0
local prefix = ""

function init(args)
  prefix = args[1] .. "-" .. tid .. "-"
  for line in io.lines(args[2]) do
    local tab = line:find("\t", 1, true)
    templates[#templates + 1] = { line:sub(1, tab - 1), line:sub(tab + 1) }
  end
  math.randomseed(os.time() + tid * 7919)
end

function request()
  counter = counter + 1
  local t = templates[math.random(#templates)]
  return wrk.format("POST", "/api/v1/dossiers", {
    ["Authorization"] = "Bearer " .. t[1],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = prefix .. counter,
  }, t[2])
end

expected = 201
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
