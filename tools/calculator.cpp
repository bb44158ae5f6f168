#include "tools/calculator.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <vector>

namespace r1 {

std::string CalcValue::to_string() const {
  if (is_integer) return std::to_string(integer);
  if (real == 0) return "0";  // also folds -0
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", real);
  return buf;
}

namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<CalcValue> parse() {
    if (s_.size() > kCalculatorMaxInputBytes) {
      return Status::invalid("expression is longer than " +
                             std::to_string(kCalculatorMaxInputBytes) + " bytes");
    }
    skip_space();
    if (pos_ >= s_.size()) return Status::invalid("empty expression");
    CalcValue v;
    if (!expr(v)) return Status::invalid(error_);
    skip_space();
    if (pos_ < s_.size()) return fail_at(pos_, "unexpected '" + std::string(1, s_[pos_]) + "'");
    if (!v.is_integer && !std::isfinite(v.real)) return Status::invalid("result is not finite");
    return v;
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
  int32_t depth_ = 0;
  std::string error_;

  Status fail_at(size_t at, const std::string& msg) {
    return Status::invalid("column " + std::to_string(at + 1) + ": " + msg);
  }
  bool error(size_t at, const std::string& msg) {
    error_ = "column " + std::to_string(at + 1) + ": " + msg;
    return false;
  }

  void skip_space() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < s_.size() && s_[pos_] == c;
  }

  // Guards recursion: every rule that can nest calls enter() first.
  bool enter(size_t at) {
    if (++depth_ > kCalculatorMaxDepth) {
      return error(
          at, "expression nests deeper than " + std::to_string(kCalculatorMaxDepth) + " levels");
    }
    return true;
  }

  static double as_real(const CalcValue& v) {
    return v.is_integer ? static_cast<double>(v.integer) : v.real;
  }
  static CalcValue real(double d) {
    CalcValue v;
    v.is_integer = false;
    v.real = d;
    return v;
  }
  static CalcValue integer(int64_t i) {
    CalcValue v;
    v.integer = i;
    return v;
  }
  bool finite(size_t at, const CalcValue& v) {
    if (!v.is_integer && !std::isfinite(v.real)) return error(at, "result is not finite");
    return true;
  }
  bool overflow(size_t at, char op) {
    return error(at, std::string("integer overflow in '") + op +
                         "' (the exact result is outside the 64-bit range); use a decimal "
                         "operand such as 2.0 for an approximate result");
  }

  bool expr(CalcValue& out) {
    if (!term(out)) return false;
    while (true) {
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '+' && s_[pos_] != '-')) return true;
      char op = s_[pos_];
      size_t at = pos_++;
      CalcValue rhs;
      if (!term(rhs)) return false;
      if (out.is_integer && rhs.is_integer) {
        int64_t r;
        bool ovf = op == '+' ? __builtin_add_overflow(out.integer, rhs.integer, &r)
                             : __builtin_sub_overflow(out.integer, rhs.integer, &r);
        if (ovf) return overflow(at, op);
        out = integer(r);
      } else {
        out = real(op == '+' ? as_real(out) + as_real(rhs) : as_real(out) - as_real(rhs));
        if (!finite(at, out)) return false;
      }
    }
  }

  bool term(CalcValue& out) {
    if (!unary(out)) return false;
    while (true) {
      skip_space();
      if (pos_ >= s_.size() || (s_[pos_] != '*' && s_[pos_] != '/' && s_[pos_] != '%')) {
        return true;
      }
      char op = s_[pos_];
      size_t at = pos_++;
      CalcValue rhs;
      if (!unary(rhs)) return false;
      if (op != '*' && as_real(rhs) == 0) {
        return error(at, op == '/' ? "division by zero" : "remainder of division by zero");
      }
      if (out.is_integer && rhs.is_integer) {
        int64_t a = out.integer, b = rhs.integer;
        if (op == '*') {
          int64_t r;
          if (__builtin_mul_overflow(a, b, &r)) return overflow(at, op);
          out = integer(r);
        } else if (a == std::numeric_limits<int64_t>::min() && b == -1) {
          if (op == '/') return overflow(at, op);
          out = integer(0);
        } else if (op == '%') {
          out = integer(a % b);
        } else if (a % b == 0) {
          out = integer(a / b);
        } else {
          out = real(static_cast<double>(a) / static_cast<double>(b));
        }
      } else {
        double a = as_real(out), b = as_real(rhs);
        out = real(op == '*' ? a * b : op == '/' ? a / b : std::fmod(a, b));
        if (!finite(at, out)) return false;
      }
    }
  }

  bool unary(CalcValue& out) {
    skip_space();
    if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) {
      char op = s_[pos_];
      size_t at = pos_++;
      if (!enter(at)) return false;
      if (!unary(out)) return false;
      --depth_;
      if (op == '-') {
        if (out.is_integer) {
          if (out.integer == std::numeric_limits<int64_t>::min()) return overflow(at, '-');
          out.integer = -out.integer;
        } else {
          out.real = -out.real;
        }
      }
      return true;
    }
    return power(out);
  }

  bool power(CalcValue& out) {
    if (!primary(out)) return false;
    skip_space();
    if (pos_ >= s_.size() || s_[pos_] != '^') return true;
    size_t at = pos_++;
    if (!enter(at)) return false;
    CalcValue exp;
    if (!unary(exp)) return false;
    --depth_;
    if (out.is_integer && exp.is_integer && exp.integer >= 0) {
      // Exact: square-and-multiply with overflow checks.
      int64_t base = out.integer, e = exp.integer, r = 1;
      if (base == 0 || base == 1) {
        out = integer(e == 0 ? 1 : base);
        return true;
      }
      if (base == -1) {
        out = integer(e % 2 == 0 ? 1 : -1);
        return true;
      }
      while (e > 0) {
        if (e & 1) {
          if (__builtin_mul_overflow(r, base, &r)) return overflow(at, '^');
        }
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(base, base, &base)) return overflow(at, '^');
      }
      out = integer(r);
      return true;
    }
    double b = as_real(out), e = as_real(exp);
    if (b == 0 && e < 0) return error(at, "zero raised to a negative power");
    if (b < 0 && e != std::floor(e)) {
      return error(at, "negative number raised to a fractional power");
    }
    out = real(std::pow(b, e));
    return finite(at, out);
  }

  bool number(CalcValue& out) {
    size_t start = pos_;
    bool decimal = false;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      decimal = true;
      ++pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    }
    if (pos_ - start == 1 && decimal) return error(start, "a lone '.' is not a number");
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) ++p;
      if (p < s_.size() && s_[p] >= '0' && s_[p] <= '9') {
        decimal = true;
        pos_ = p;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      }
      // Otherwise the 'e' is left for the caller ("2e" is then an error, "2 e" too).
    }
    std::string text(s_.substr(start, pos_ - start));
    if (!decimal) {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (errno == ERANGE) {
        return error(start, "integer literal " + text + " is outside the 64-bit range");
      }
      out = integer(v);
      return true;
    }
    double d = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(d)) return error(start, "number " + text + " is too large");
    out = real(d);
    return true;
  }

  bool primary(CalcValue& out) {
    skip_space();
    if (pos_ >= s_.size()) return error(pos_, "unexpected end of expression");
    char c = s_[pos_];
    if ((c >= '0' && c <= '9') || c == '.') return number(out);
    if (c == '(') {
      size_t at = pos_++;
      if (!enter(at)) return false;
      if (!expr(out)) return false;
      if (!peek(')'))
        return error(pos_, "expected ')' to close the '(' at column " + std::to_string(at + 1));
      ++pos_;
      --depth_;
      return true;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      size_t start = pos_;
      while (pos_ < s_.size() &&
             ((s_[pos_] >= 'a' && s_[pos_] <= 'z') || (s_[pos_] >= 'A' && s_[pos_] <= 'Z') ||
              (s_[pos_] >= '0' && s_[pos_] <= '9') || s_[pos_] == '_'))
        ++pos_;
      std::string name(s_.substr(start, pos_ - start));
      if (name == "pi") {
        out = real(M_PI);
        return true;
      }
      if (name == "e") {
        out = real(M_E);
        return true;
      }
      static const char* const kFunctions[] = {"sqrt", "abs", "round", "floor",
                                               "ceil", "min", "max"};
      bool known = false;
      for (const char* f : kFunctions) known = known || name == f;
      if (!known) {
        return error(start, "unknown name \"" + name +
                                "\" (functions: sqrt abs round floor ceil min max; "
                                "constants: pi e)");
      }
      if (!peek('(')) return error(pos_, "expected '(' after " + name);
      size_t open = pos_++;
      if (!enter(open)) return false;
      std::vector<CalcValue> args;
      while (true) {
        CalcValue a;
        if (!expr(a)) return false;
        args.push_back(a);
        if (args.size() > 256) return error(pos_, "too many arguments to " + name);
        if (peek(',')) {
          ++pos_;
          continue;
        }
        if (peek(')')) {
          ++pos_;
          break;
        }
        return error(pos_, "expected ',' or ')' in the arguments of " + name);
      }
      --depth_;
      return apply(start, name, args, out);
    }
    return error(pos_, "unexpected '" + std::string(1, c) + "'");
  }

  // A double that is a whole number and fits int64 becomes an integer; otherwise stays real.
  static CalcValue whole(double d) {
    if (d >= -9.2233720368547758e18 && d < 9.2233720368547758e18) {
      return integer(static_cast<int64_t>(d));
    }
    return real(d);
  }

  bool apply(size_t at, const std::string& name, const std::vector<CalcValue>& args,
             CalcValue& out) {
    bool variadic = name == "min" || name == "max";
    if (!variadic && args.size() != 1) {
      return error(at, name + " takes exactly one argument, got " + std::to_string(args.size()));
    }
    const CalcValue& x = args[0];
    if (name == "min" || name == "max") {
      bool all_int = true;
      for (const CalcValue& a : args) all_int = all_int && a.is_integer;
      CalcValue best = args[0];
      for (const CalcValue& a : args) {
        bool better =
            all_int ? (name == "min" ? a.integer < best.integer : a.integer > best.integer)
                    : (name == "min" ? as_real(a) < as_real(best) : as_real(a) > as_real(best));
        if (better) best = a;
      }
      out = all_int ? best : real(as_real(best));
      return true;
    }
    if (name == "abs") {
      if (x.is_integer) {
        if (x.integer == std::numeric_limits<int64_t>::min()) return overflow(at, '-');
        out = integer(x.integer < 0 ? -x.integer : x.integer);
      } else {
        out = real(std::fabs(x.real));
      }
      return true;
    }
    if (name == "sqrt") {
      if (as_real(x) < 0) return error(at, "sqrt of a negative number");
      if (x.is_integer) {
        // Exact for perfect squares: correct the double estimate by +-1.
        int64_t r = static_cast<int64_t>(std::sqrt(static_cast<double>(x.integer)));
        while (r > 0 && static_cast<__int128>(r) * r > x.integer) --r;
        while (static_cast<__int128>(r + 1) * (r + 1) <= x.integer) ++r;
        if (static_cast<__int128>(r) * r == x.integer) {
          out = integer(r);
          return true;
        }
      }
      out = real(std::sqrt(as_real(x)));
      return true;
    }
    if (x.is_integer) {  // round, floor, ceil of an integer: itself
      out = x;
      return true;
    }
    double d = name == "round"   ? std::round(x.real)
               : name == "floor" ? std::floor(x.real)
                                 : std::ceil(x.real);
    out = whole(d);
    return true;
  }
};

}  // namespace

Result<CalcValue> evaluate_expression(std::string_view expression) {
  return Parser(expression).parse();
}

Tool make_calculator_tool() {
  Tool t;
  t.name = "calculator";
  t.description =
      "Evaluates an arithmetic expression exactly: + - * / % ^ (power), parentheses, "
      "sqrt abs round floor ceil min max, constants pi e. Integers are exact (64-bit; "
      "overflow is an error); decimals are doubles shown to 15 significant digits.";
  t.parameters = {
      {"type", "object"},
      {"properties",
       {{"expression",
         {{"type", "string"}, {"description", "e.g. \"(2 + 3) * 4 / 7\""}, {"maxLength", 4096}}}}},
      {"required", {"expression"}},
      {"additionalProperties", false}};
  t.timeout_s = 5;
  t.handler = [](const nlohmann::json& args, const ToolContext&) -> Result<ToolOutput> {
    Result<CalcValue> v = evaluate_expression(args.at("expression").get<std::string>());
    if (!v) return tool_error(v.status().message());
    return tool_ok(v->to_string());
  };
  return t;
}

}  // namespace r1
