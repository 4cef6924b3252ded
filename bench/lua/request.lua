-- Generic wrk script: one method, path and body per scenario, read from the environment the driver sets.
--   BENCH_METHOD     HTTP method (GET when unset)
--   BENCH_BODY_FILE  file holding the request body (none when unset)
--   BENCH_SEED       seed for the per-request UUIDs (distinct for every wrk process)
-- Headers come from wrk's -H flags. Every "__UUID__" in the body becomes a fresh UUID4 on each request, so
-- bodies whose id is an idempotency key or a primary key stay unique.

package.path = (os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/?.lua;" .. package.path
done = require("report").done

wrk.method = os.getenv("BENCH_METHOD") or "GET"

local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
   local f = assert(io.open(body_file, "rb"))
   wrk.body = f:read("*a")
   f:close()
end

local function uuid4()
   local r = math.random
   return string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
      r(0, 0xffff), r(0, 0xffff), r(0, 0xffff), r(0, 0x0fff),
      r(0, 0x3fff) + 0x8000, r(0, 0xffff), r(0, 0xffff), r(0, 0xffff))
end

-- Each thread has its own Lua state: number the threads so that they draw different sequences.
local threads_set_up = 0
function setup(thread)
   threads_set_up = threads_set_up + 1
   thread:set("thread_index", threads_set_up)
end

if wrk.body and wrk.body:find("__UUID__", 1, true) then
   local template = wrk.body
   init = function(args)
      -- Two wrk processes started in the same second must not share a sequence, hence the driver's seed.
      local seed = tonumber(os.getenv("BENCH_SEED") or "") or os.time()
      math.randomseed(seed + (thread_index or 0) * 104729)
   end
   request = function()
      return wrk.format(nil, nil, nil, (template:gsub("__UUID__", uuid4)))
   end
end
