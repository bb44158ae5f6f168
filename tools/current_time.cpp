#include "tools/current_time.h"

#include <ctime>

namespace r1 {

namespace {

// "2025-01-31T10:30:00+01:00" (or "...Z" for UTC).
std::string iso8601(std::time_t t, bool utc) {
  std::tm tm{};
  if (utc) {
    gmtime_r(&t, &tm);
  } else {
    localtime_r(&t, &tm);
  }
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (utc) return out + "Z";
  long off = tm.tm_gmtoff;  // s east of UTC
  char sign = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  char zone[32];
  std::snprintf(zone, sizeof zone, "%c%02ld:%02ld", sign, off / 3600, (off / 60) % 60);
  return out + zone;
}

}  // namespace

Tool make_current_time_tool() {
  Tool t;
  t.name = "current_time";
  t.description =
      "Returns the current date and time in ISO 8601, in UTC and in this machine's local zone, "
      "plus the Unix time in seconds.";
  t.parameters = {{"type", "object"},
                  {"properties",
                   {{"timezone",
                     {{"type", "string"},
                      {"enum", {"utc", "local"}},
                      {"description", "only this zone (default: both)"}}}}},
                  {"additionalProperties", false}};
  t.timeout_s = 5;
  t.handler = [](const nlohmann::json& args, const ToolContext&) -> Result<ToolOutput> {
    std::time_t now = std::time(nullptr);
    std::string zone = args.value("timezone", "");
    nlohmann::json out = nlohmann::json::object();
    if (zone != "local") out["utc"] = iso8601(now, true);
    if (zone != "utc") out["local"] = iso8601(now, false);
    out["unix"] = static_cast<int64_t>(now);
    return tool_ok(out.dump());
  };
  return t;
}

}  // namespace r1
