// The calculator: exact integer arithmetic with overflow detection, the documented decimal rule,
// precedence, functions, and errors that name the column.
#include "tools/calculator.h"

#include <doctest/doctest.h>

#include <string>

TEST_SUITE_BEGIN("parsers");

namespace r1 {
namespace {

std::string eval(const std::string& expr) {
  Result<CalcValue> v = evaluate_expression(expr);
  if (!v) return "error: " + v.status().message();
  return v->to_string();
}

TEST_CASE("calculator: integers are exact and overflow is detected, never wrapped") {
  CHECK(eval("1 + 2 * 3") == "7");
  CHECK(eval("(1 + 2) * 3") == "9");
  CHECK(eval("2^62") == "4611686018427387904");
  CHECK(eval("2^62 * 2 - 1 + 2^62 * 0").find("overflow") != std::string::npos);
  CHECK(eval("2^62*2").find("error: column 5: integer overflow in '*'") == 0);
  CHECK(eval("2^63").find("overflow") != std::string::npos);
  CHECK(eval("2^63 - 1").find("overflow") != std::string::npos);  // 2^63 itself overflows
  CHECK(eval("4611686018427387904 + 4611686018427387903") == "9223372036854775807");
  CHECK(eval("9223372036854775807 + 1").find("overflow") != std::string::npos);
  CHECK(eval("-9223372036854775807 - 1") == "-9223372036854775808");
  CHECK(eval("-9223372036854775807 - 2").find("overflow") != std::string::npos);
  CHECK(eval("99999999999999999999").find("outside the 64-bit range") != std::string::npos);
  CHECK(eval("123456789 * 987654321") == "121932631112635269");
  CHECK(eval("2.0^64") == "1.84467440737096e+19");  // a decimal operand opts into doubles
}

TEST_CASE("calculator: division, remainder and the decimal rule") {
  CHECK(eval("6 / 3") == "2");    // even division stays an integer
  CHECK(eval("7 / 2") == "3.5");  // otherwise a decimal
  CHECK(eval("1 / 3") == "0.333333333333333");
  CHECK(eval("7 % 3") == "1");
  CHECK(eval("-7 % 3") == "-1");  // sign of the dividend, as C
  CHECK(eval("7.5 % 2") == "1.5");
  // Decimals are doubles printed to 15 significant digits: the binary error of 0.1 + 0.2
  // (0.30000000000000004) is below that precision, so it prints 0.3.
  CHECK(eval("0.1 + 0.2") == "0.3");
  CHECK(eval("0.1 + 0.2 - 0.3") == "5.55111512312578e-17");  // ...but it is still there
  CHECK(eval("1e3") == "1000");
  CHECK(eval("1.5e-3") == "0.0015");
  CHECK(eval(".5 + 1.") == "1.5");
  CHECK(eval("1 / 0").find("column 3: division by zero") != std::string::npos);
  CHECK(eval("1 % 0").find("division by zero") != std::string::npos);
  CHECK(eval("1.0 / 0.0").find("division by zero") != std::string::npos);
  CHECK(eval("(-9223372036854775807 - 1) / -1").find("overflow") != std::string::npos);
}

TEST_CASE("calculator: precedence, unary minus and right-associative powers") {
  CHECK(eval("-2^2") == "-4");
  CHECK(eval("(-2)^2") == "4");
  CHECK(eval("2^3^2") == "512");
  CHECK(eval("2^-1") == "0.5");
  CHECK(eval("--3") == "3");
  CHECK(eval("+3 - -3") == "6");
  CHECK(eval("10 - 4 - 3") == "3");  // left-associative
  CHECK(eval("100 / 10 / 5") == "2");
  CHECK(eval(" 2 *\t(3 + 4) ") == "14");
  CHECK(eval("0^0") == "1");
  CHECK(eval("0^-1").find("zero raised to a negative power") != std::string::npos);
  CHECK(eval("(-8)^0.5").find("fractional power") != std::string::npos);
}

TEST_CASE("calculator: functions and constants") {
  CHECK(eval("sqrt(16)") == "4");  // perfect squares stay exact
  CHECK(eval("sqrt(2)") == "1.4142135623731");
  CHECK(eval("sqrt(-1)").find("sqrt of a negative number") != std::string::npos);
  CHECK(eval("abs(-5)") == "5");
  CHECK(eval("abs(-2.5)") == "2.5");
  CHECK(eval("round(2.5)") == "3");
  CHECK(eval("round(-2.5)") == "-3");  // half away from zero
  CHECK(eval("floor(-1.5)") == "-2");
  CHECK(eval("ceil(1.2)") == "2");
  CHECK(eval("floor(7)") == "7");
  CHECK(eval("min(3, 1, 2)") == "1");
  CHECK(eval("max(3, 1.5)") == "3");
  CHECK(eval("max(-1)") == "-1");
  CHECK(eval("pi") == "3.14159265358979");
  CHECK(eval("round(e * 1000)") == "2718");
  CHECK(eval("sqrt(1, 2)").find("exactly one argument") != std::string::npos);
  CHECK(eval("floor(1e300)") == "1e+300");  // too big for an integer: stays decimal
}

TEST_CASE("calculator: errors name the column") {
  CHECK(eval("") == "error: empty expression");
  CHECK(eval("1 +") == "error: column 4: unexpected end of expression");
  CHECK(eval("1 + * 2") == "error: column 5: unexpected '*'");
  CHECK(eval("(1 + 2") == "error: column 7: expected ')' to close the '(' at column 1");
  CHECK(eval("1 + 2)") == "error: column 6: unexpected ')'");
  CHECK(eval("2 x") == "error: column 3: unexpected 'x'");
  CHECK(eval("foo(1)").find("column 1: unknown name \"foo\"") != std::string::npos);
  CHECK(eval("sqrt 4") == "error: column 6: expected '(' after sqrt");
  CHECK(eval("max(1 2)").find("expected ',' or ')'") != std::string::npos);
  CHECK(eval("1..2").find("column 3") != std::string::npos);
  CHECK(eval(".") == "error: column 1: a lone '.' is not a number");
  CHECK(eval("2e") == "error: column 2: unexpected 'e'");
  CHECK(eval("import os").find("unknown name") != std::string::npos);
}

TEST_CASE("calculator: deep nesting and long input are refused, not a stack overflow") {
  std::string deep(1000, '(');
  deep += "1";
  CHECK(eval(deep).find("nests deeper than 64") != std::string::npos);
  std::string ok = std::string(60, '(') + "1" + std::string(60, ')');
  CHECK(eval(ok) == "1");
  std::string minus(5000, '-');
  CHECK(eval(minus.substr(0, 4000) + "1").find("nests deeper") != std::string::npos);
  std::string pow_chain = "1";
  for (int i = 0; i < 100; ++i) pow_chain += "^1";
  CHECK(eval(pow_chain).find("nests deeper") != std::string::npos);
  std::string fn;
  for (int i = 0; i < 100; ++i) fn += "abs(";
  CHECK(eval(fn + "1").find("nests deeper") != std::string::npos);
  CHECK(eval(std::string(5000, '1')).find("longer than 4096 bytes") != std::string::npos);
}

TEST_CASE("calculator: the tool wraps the evaluator") {
  Tool t = make_calculator_tool();
  CHECK(t.name == "calculator");
  Result<ToolOutput> ok = t.handler({{"expression", "2 + 2"}}, ToolContext{});
  REQUIRE(ok.is_ok());
  CHECK(ok->content == "4");
  CHECK_FALSE(ok->is_error);
  Result<ToolOutput> bad = t.handler({{"expression", "2 +"}}, ToolContext{});
  REQUIRE(bad.is_ok());
  CHECK(bad->is_error);
  CHECK(bad->content.find("column 4") != std::string::npos);
}

}  // namespace
}  // namespace r1

TEST_SUITE_END();
