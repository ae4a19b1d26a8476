-- wrk script for benchmarks/serve_load.py: POST /v1/ner with the JSON bodies of a file (one body a
-- line, given after `--`), each connection's thread rotating through them, and at the end one line
-- "EIWA_SUMMARY {json}" with the counts and the latency distribution (microseconds).

local prepared = {}
local position = 1
local thread_count = 0

function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(args[1]) do
    if #line > 0 then
      prepared[#prepared + 1] = wrk.format("POST", "/v1/ner", headers, line)
    end
  end
  -- threads start at different bodies so that they do not send the same ones in step
  position = (thread_number or 0) * 7919 % #prepared + 1
end

function request()
  local next_request = prepared[position]
  position = position % #prepared + 1
  return next_request
end

function done(summary, latency, _)
  local errors = summary.errors
  local fields = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"bytes": %d', summary.bytes),
    string.format('"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
      errors.connect, errors.read, errors.write, errors.status, errors.timeout),
    string.format('"latency_us": {"mean": %.1f, "max": %d, "p50": %d, "p75": %d, "p90": %d, "p99": %d, "p99.9": %d}',
      latency.mean, latency.max, latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9)),
  }
  io.write("EIWA_SUMMARY {" .. table.concat(fields, ", ") .. "}\n")
end
