-- filter: a filtered, ordered page of 20.
--   GET /books?author_id=eq.{1..10000}&order=published_at.desc&limit=20
local c = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = function()
  local a = math.random(1, c.N_AUTHORS)
  return c.get("/books?author_id=eq." .. a .. "&order=published_at.desc&limit=20")
end
