-- wrk script of the load generator's cross-check (bench/checkwrk.py): one GET, then a pause of
-- BENCH_DELAY_MS before the next on the same connection, so one connection sends at a low, steady rate.
package.path = (os.getenv("BENCH_LUA_DIR") or "bench/lua") .. "/?.lua;" .. package.path
done = require("report").done

local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "") or 50

function delay()
   return pause
end
