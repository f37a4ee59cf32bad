-- update: one row by primary key.   PATCH /books?id=eq.{1..100000}  Prefer: return=minimal
local c = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = function()
  local body = string.format('{"price":%d.99}', math.random(1, 99))
  return c.write("PATCH", "/books?id=eq." .. math.random(1, c.N_BOOKS), body)
end
