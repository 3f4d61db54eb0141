-- wrk script: POST WRK_BODY to the URL; with WRK_RATE > 0 each of WRK_CONNECTIONS connections
-- waits between requests so that together they send about WRK_RATE requests per second.
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY") or "{}"
wrk.headers["Content-Type"] = "application/json"

local rate = tonumber(os.getenv("WRK_RATE") or "0")
local connections = tonumber(os.getenv("WRK_CONNECTIONS") or "8")

if rate > 0 then
  function delay()
    return connections * 1000 / rate
  end
end
