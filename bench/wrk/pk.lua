-- pk: one row by primary key.   GET /books?id=eq.{1..100000}
local c = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = function()
  return c.get("/books?id=eq." .. math.random(1, c.N_BOOKS))
end
