// libFuzzer target for the calculator. Any input must evaluate or fail with a Status (never
// crash, overflow a signed integer, or recurse past the depth limit); a success must print, and
// printing an integer result and evaluating that text again must give the same integer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tools/calculator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  r1::Result<r1::CalcValue> v = r1::evaluate_expression(text);
  if (!v.is_ok()) {
    if (v.status().message().empty()) __builtin_trap();  // every error says what went wrong
    return 0;
  }
  std::string printed = v->to_string();
  if (printed.empty()) __builtin_trap();
  if (v->is_integer && v->integer != INT64_MIN) {
    r1::Result<r1::CalcValue> again = r1::evaluate_expression(printed);
    if (!again.is_ok() || !again->is_integer || again->integer != v->integer) __builtin_trap();
  }
  return 0;
}
