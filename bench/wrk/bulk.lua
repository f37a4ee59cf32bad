-- bulk: 1,000 rows in one request, nothing returned.   POST /books  Prefer: return=minimal
local c = dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local rows = {}
for i = 1, 1000 do
  rows[i] = string.format(
    '{"author_id":%d,"title":"Bench bulk %d","isbn":"978-0-00-000000-0","price":12.5,' ..
    '"pages":320,"published_at":"2024-01-01T00:00:00Z"}', 1 + (i * 7) % c.N_AUTHORS, i)
end
local BODY = "[" .. table.concat(rows, ",") .. "]"

request = function()
  return c.write("POST", "/books", BODY)
end
