-- bench/http_post.lua — wrk script for bench/http: every request is the same
-- POST, with the body read once from the file named by BODY_FILE and the
-- key from POPEBOT_KEY (sent as x-api-key; empty for the trivial server).
-- The route is wrk's URL, so the script serves any POST route.
local f = assert(io.open(assert(os.getenv("BODY_FILE"), "BODY_FILE is not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("POPEBOT_KEY") or ""
if key ~= "" then
  wrk.headers["x-api-key"] = key
end
