-- wrk script for bench/run.py: prints one "BENCH_JSON {...}" line when the run is done.
--
-- Reads are plain GETs of the URL given to wrk (headers come from -H). For writes, set
--   BENCH_METHOD   e.g. PATCH
--   BENCH_BODY     the form body; every "{n}" becomes a per-thread request counter, so each write changes the row
--   BENCH_PATHS    comma-separated paths, used in turn (e.g. the rows of list page 1)
--   BENCH_THREADS  wrk's --threads: each thread takes its own share of the paths, so two threads never write the
--                  same row at once (a row is only reused once the thread has gone through all of its share)
-- and `request` below issues them. wrk counts responses with a status >= 400 in errors.status (not 3xx).

local method = os.getenv("BENCH_METHOD")
local body_template = os.getenv("BENCH_BODY") or ""
local paths = {}
for path in string.gmatch(os.getenv("BENCH_PATHS") or "", "[^,]+") do
  paths[#paths + 1] = path
end

local next_index = 0
function setup(thread)
  -- runs in the main Lua state, once per thread, before that thread's init()
  thread:set("bench_thread_index", next_index)
  next_index = next_index + 1
end

local mine = paths
function init(args)
  local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
  local index = bench_thread_index or 0
  if #paths >= threads and threads > 1 then
    mine = {}
    for i, path in ipairs(paths) do
      if (i - 1) % threads == index then
        mine[#mine + 1] = path
      end
    end
  end
end

if method and method ~= "" then
  local counter = 0
  request = function()
    counter = counter + 1
    local path = nil
    if #mine > 0 then
      path = mine[(counter % #mine) + 1]
    end
    local body = (string.gsub(body_template, "{n}", tostring(counter)))
    return wrk.format(method, path, nil, body)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, "errors_read": %d, '
      .. '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, "latency_mean_us": %.3f, '
      .. '"latency_max_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99)
  ))
end
