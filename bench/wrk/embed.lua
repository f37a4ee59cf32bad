-- embed: a parent with its 10 children (one-to-many).
--   GET /authors?id=eq.{1..10000}&select=id,name,books(id,title)
local c = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = function()
  return c.get("/authors?id=eq." .. math.random(1, c.N_AUTHORS) .. "&select=id,name,books(id,title)")
end
