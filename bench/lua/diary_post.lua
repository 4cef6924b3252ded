-- wrk script of the diary_post and diary_batch scenarios: many participants' phones, each posting with its
-- own token to its own participant's path (the scenario's path after the participant id: /entries, /entries/batch).
--   BENCH_DIARY_PEOPLE  file of "participant_id access_token" lines (written by the scenario's setup hook)
--   BENCH_BODY_FILE     the entry; every "__UUID__" becomes a fresh UUID4 per request
-- Requests go round-robin over the participants, so writes of one participant stay rare, as on a real
-- service (each participant's writes are serialised by design: see core/diary/service.py).

package.path = (os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/?.lua;" .. package.path
done = require("report").done

local people = {}
for line in io.lines(os.getenv("BENCH_DIARY_PEOPLE")) do
   local participant, token = line:match("^(%S+)%s+(%S+)$")
   if participant then people[#people + 1] = { participant, token } end
end

local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
local template = f:read("*a")
f:close()

local function uuid4()
   local r = math.random
   return string.format("%04x%04x-%04x-4%03x-%04x-%04x%04x%04x",
      r(0, 0xffff), r(0, 0xffff), r(0, 0xffff), r(0, 0x0fff),
      r(0, 0x3fff) + 0x8000, r(0, 0xffff), r(0, 0xffff), r(0, 0xffff))
end

local threads_set_up = 0
function setup(thread)
   threads_set_up = threads_set_up + 1
   thread:set("thread_index", threads_set_up)
end

-- what follows the participant id in the scenario's path ("/entries", "/entries/batch")
suffix = "/entries"

local sent = 0
function init(args)
   suffix = wrk.path:match("^/api/v1/participants/[^/]+(/.*)$") or suffix
   local seed = tonumber(os.getenv("BENCH_SEED") or "") or os.time()
   math.randomseed(seed + (thread_index or 0) * 104729)
   sent = math.random(0, #people - 1)
end

function request()
   sent = sent + 1
   local person = people[sent % #people + 1]
   local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. person[2],
      ["User-Agent"] = "GlucodiaryApp/2.3.1",
   }
   local path = "/api/v1/participants/" .. person[1] .. suffix
   return wrk.format("POST", path, headers, (template:gsub("__UUID__", uuid4)))
end
