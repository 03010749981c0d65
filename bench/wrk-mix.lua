-- Loaded by bench/compress.js: requests the paths in $SLUICE_MIX (comma
-- separated) in turn, each with Accept-Encoding: br, gzip, then prints the
-- summary as bench/wrk-report.lua does.
local paths = {}
for p in string.gmatch(os.getenv("SLUICE_MIX") or "/", "[^,]+") do paths[#paths + 1] = p end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Accept-Encoding"] = "br, gzip" })
end
dofile(os.getenv("SLUICE_WRK_REPORT"))
