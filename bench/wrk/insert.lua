-- insert: one row, nothing returned.   POST /books  Prefer: return=minimal
local c = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

request = function()
  local body = string.format(
    '{"author_id":%d,"title":"Bench insert","isbn":"978-0-00-000000-0","price":12.5,' ..
    '"pages":320,"published_at":"2024-01-01T00:00:00Z"}', math.random(1, c.N_AUTHORS))
  return c.write("POST", "/books", body)
end
