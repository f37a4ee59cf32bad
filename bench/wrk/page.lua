-- page: 1000 full rows (jsonb, numeric, timestamptz): serialization-bound.
--   GET /books?limit=1000&offset={0..9999}   (no ORDER BY, as PostgREST adds none)
local c = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = function()
  return c.get("/books?limit=1000&offset=" .. math.random(0, 9999))
end
