// Calculator: an exact arithmetic evaluator (a recursive-descent parser, no eval), and the
// `calculator` tool built on it.
//
// Grammar (whitespace between tokens is ignored):
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/' | '%') unary)*
//   unary   := ('-' | '+') unary | power
//   power   := primary ('^' unary)?          right-associative; -2^2 = -4, 2^-1 = 0.5
//   primary := number | constant | function '(' expr (',' expr)* ')' | '(' expr ')'
//   number  := digits ('.' digits?)? | '.' digits, optionally with an exponent e[+-]digits
//   constant:= pi | e        function := sqrt abs round floor ceil min max
//
// Numbers: an integer literal is an exact signed 64-bit integer; + - * % ^ and abs/min/max on
// integers stay exact, and a result outside [-2^63, 2^63-1] is an error ("integer overflow"),
// never a silent wrap or a rounded double. A literal with '.' or an exponent, a constant, sqrt of
// a non-square, or a division that does not come out even gives a decimal: an IEEE-754 double.
// Decimals are printed with 15 significant digits, so 0.1 + 0.2 prints 0.3 (the binary error of
// the double, 0.30000000000000004, is below the printed precision); integers print in full.
// round/floor/ceil of a decimal return an integer when it fits in 64 bits. round is half away
// from zero. % is the remainder with the sign of the dividend (as C). Division or % by zero,
// sqrt of a negative number and non-finite results are errors.
//
// Errors name the 1-based column: "column 7: unexpected ')'". Limits: 4096 bytes of input,
// 64 levels of nesting (parentheses, unary signs, function calls, exponent chains).
// Thread-safe (pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "tools/tool.h"

namespace r1 {

struct CalcValue {
  bool is_integer = true;
  int64_t integer = 0;  // when is_integer
  double real = 0;      // when !is_integer
  std::string to_string() const;
};

constexpr int32_t kCalculatorMaxDepth = 64;
constexpr size_t kCalculatorMaxInputBytes = 4096;

// Evaluates `expression`. kInvalidArgument with the column for syntax errors, unknown names,
// overflow, division by zero, domain errors and the limits above.
Result<CalcValue> evaluate_expression(std::string_view expression);

// Tool "calculator": arguments {"expression": string}; returns the value as text.
Tool make_calculator_tool();

}  // namespace r1
