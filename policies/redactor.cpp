#include "policies/redactor.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <functional>

namespace r1 {

namespace {

constexpr uint32_t kMatchLimit = 1000000;  // backtracking steps per match attempt
constexpr uint32_t kDepthLimit = 10000;    // backtracking depth (heap frames)

std::string digits_of(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (c >= '0' && c <= '9') d += c;
  }
  return d;
}

bool luhn_ok(std::string_view match) {
  std::string d = digits_of(match);
  if (d.size() < 13 || d.size() > 19) return false;
  int sum = 0;
  bool dbl = false;
  for (size_t i = d.size(); i-- > 0;) {
    int v = d[i] - '0';
    if (dbl) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

// ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1.
bool iban_ok(std::string_view match) {
  std::string s;
  for (char c : match) {
    if (c != ' ') s += c;
  }
  if (s.size() < 15 || s.size() > 34) return false;
  std::string moved = s.substr(4) + s.substr(0, 4);
  int rem = 0;
  for (char c : moved) {
    if (c >= '0' && c <= '9') {
      rem = (rem * 10 + (c - '0')) % 97;
    } else if (c >= 'A' && c <= 'Z') {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

struct Builtin {
  const char* kind;
  const char* pattern;
  bool (*validate)(std::string_view);  // nullptr: every match is redacted
  bool keep_group1 = false;            // group 1 is a prefix to keep ("Bearer ")
};

// Order matters: a PEM block is removed whole before its base64 lines could match anything
// else; bearer tokens and API keys before e-mail (a token may contain '@'-free text only, but
// the longer, more specific match should win); IBAN before cards (both are digit runs).
const Builtin kBuiltins[] = {
    {"private_key",
     R"(-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----)",
     nullptr},
    // Group 1 (kept): the "Bearer " prefix; the match after it is the token.
    {"bearer_token", R"((?i)(\bbearer\s+)[A-Za-z0-9._~+/-]{8,}=*)", nullptr, true},
    {"api_key",
     R"(\b(?:sk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}|xox[abprs]-[A-Za-z0-9-]{10,}))",
     nullptr},
    {"aws_key", R"(\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)", nullptr},
    {"email", R"([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})", nullptr},
    {"iban", R"(\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b)", iban_ok},
    // Unbroken 13..19 digits, or groups as printed on cards: 4-4-4-(1..7) or Amex 4-6-(4..5),
    // with one kind of separator throughout.
    {"credit_card",
     R"((?<![0-9])(?:[0-9]{13,19}|[0-9]{4}([ -])[0-9]{4}\1[0-9]{4}\1[0-9]{1,7}|[0-9]{4}([ -])[0-9]{6}\2[0-9]{4,5})(?![0-9]))",
     luhn_ok},
    {"ssn", R"((?<![0-9-])(?!000|666|9[0-9]{2})[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![0-9-]))",
     nullptr},
};

}  // namespace

struct Redactor::Pattern {
  std::string kind;
  pcre2_code* code = nullptr;
  pcre2_match_context* match_context = nullptr;
  bool (*validate)(std::string_view) = nullptr;
  bool keep_group1 = false;
  ~Pattern() {
    pcre2_match_context_free(match_context);
    pcre2_code_free(code);
  }
};

namespace {

Result<std::shared_ptr<const Redactor::Pattern>> compile(const std::string& kind,
                                                         const std::string& pattern,
                                                         bool (*validate)(std::string_view),
                                                         bool keep_group1,
                                                         const std::string& name_for_errors) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  // UTF with MATCH_INVALID_UTF: Unicode-aware patterns still work, and text that is not valid
  // UTF-8 is scanned rather than rejected.
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    return Status::invalid(name_for_errors + " \"" + pattern + "\" does not compile at offset " +
                           std::to_string(offset) + ": " + reinterpret_cast<char*>(msg));
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; the interpreter is the fallback
  auto p = std::make_shared<Redactor::Pattern>();
  p->kind = kind;
  p->code = code;
  p->validate = validate;
  p->keep_group1 = keep_group1;
  p->match_context = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(p->match_context, kMatchLimit);
  pcre2_set_depth_limit(p->match_context, kDepthLimit);
  return std::shared_ptr<const Redactor::Pattern>(std::move(p));
}

// One pass of one pattern over `text`.
std::string redact_with(const Redactor::Pattern& p, const std::string& text) {
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(p.code, nullptr);
  std::string out;
  out.reserve(text.size());
  const std::string replacement = "[REDACTED:" + p.kind + "]";
  PCRE2_SIZE start = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (start <= text.size()) {
    int rc = pcre2_match(p.code, subject, text.size(), start, 0, md, p.match_context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      // Match or depth limit (or another matching error): fail closed from here on.
      out += "[REDACTED:unscanned]";
      pcre2_match_data_free(md);
      return out;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    PCRE2_SIZE m_begin = ov[0], m_end = ov[1];
    // Group 1, when set, is a prefix to keep (the "Bearer " before a token).
    PCRE2_SIZE keep_end = m_begin;
    if (p.keep_group1 && rc >= 2 && ov[2] == m_begin) keep_end = ov[3];
    std::string_view matched(text.data() + m_begin, m_end - m_begin);
    out.append(text, start, m_begin - start);
    if (p.validate == nullptr || p.validate(matched)) {
      out.append(text, m_begin, keep_end - m_begin);
      out += replacement;
    } else {
      out.append(matched);
    }
    if (m_end == m_begin) {
      // Empty match: copy one character and move on, or the loop would not advance.
      if (m_end < text.size()) out += text[m_end];
      start = m_end + 1;
    } else {
      start = m_end;
    }
  }
  if (start < text.size()) out.append(text, start, std::string::npos);
  pcre2_match_data_free(md);
  return out;
}

}  // namespace

Redactor::Redactor() = default;

Result<Redactor> Redactor::create(bool builtin, const std::vector<std::string>& extra_patterns) {
  Redactor r;
  if (builtin) {
    for (const Builtin& b : kBuiltins) {
      auto p = compile(b.kind, b.pattern, b.validate, b.keep_group1,
                       std::string("built-in pattern ") + b.kind);
      if (!p) return Status::internal(p.status().message());
      r.patterns_.push_back(std::move(p).value());
    }
  }
  for (size_t i = 0; i < extra_patterns.size(); ++i) {
    if (extra_patterns[i].empty()) {
      return Status::invalid("redaction pattern " + std::to_string(i + 1) + " is empty");
    }
    auto p = compile("custom", extra_patterns[i], nullptr, false,
                     "redaction pattern " + std::to_string(i + 1));
    if (!p) return p.status();
    r.patterns_.push_back(std::move(p).value());
  }
  return r;
}

std::string Redactor::redact(std::string_view text) const {
  std::string out(text);
  for (const auto& p : patterns_) out = redact_with(*p, out);
  return out;
}

size_t Redactor::pattern_count() const {
  return patterns_.size();
}

}  // namespace r1
