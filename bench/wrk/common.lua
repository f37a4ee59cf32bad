-- Shared by the wrk scripts of bench/run.py (PostgREST grammar only).
-- Each workload script does:  local c = dofile(<this dir> .. "common.lua")
-- wrk args after "--": <seed>. Thread k draws ids with math.randomseed(seed * 1000 + k).
-- BENCH_APIKEY, when set, is sent as `apikey` and `Authorization: Bearer`.
-- done() prints one line "WRKJSON {...}" that run.py parses.

local M = {}

M.N_AUTHORS = 10000
M.N_BOOKS = 100000

local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("tid", thread_counter)
end

function init(args)
  math.randomseed(tonumber(args[1] or "42") * 1000 + (tid or 0))
  -- the REST root's path (e.g. /p/<id>/rest/v1) prefixes every request
  M.prefix = (wrk.path or "/"):gsub("/+$", "")
end

local APIKEY = os.getenv("BENCH_APIKEY")
local HEADERS = {}
if APIKEY and APIKEY ~= "" then
  HEADERS["apikey"] = APIKEY
  HEADERS["Authorization"] = "Bearer " .. APIKEY
end

function M.get(path)
  return wrk.format("GET", M.prefix .. path, HEADERS)
end

local WRITE_HEADERS = {["Content-Type"] = "application/json", ["Prefer"] = "return=minimal"}
for k, v in pairs(HEADERS) do WRITE_HEADERS[k] = v end

function M.write(method, path, body)
  return wrk.format(method, M.prefix .. path, WRITE_HEADERS, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,' ..
    '"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end

return M
