// Redactor: removes secrets and personal data from text before it is stored or logged.
//
// Built-in patterns (each replaced by "[REDACTED:<kind>]"):
//   private_key  PEM private key blocks (-----BEGIN ... PRIVATE KEY----- ... END ...)
//   bearer_token the token after "Bearer " (e.g. in an Authorization header; the prefix is kept)
//   api_key      sk-..., sk-proj-..., sk-ant-..., ghp_/gho_/ghu_/ghs_/ghr_..., github_pat_...,
//                xox[abprs]-... (Slack)
//   aws_key      AWS access key ids: AKIA / ASIA + 16 upper-case letters or digits
//   email        e-mail addresses
//   iban         IBANs (2 letters, 2 check digits, 11..30 alphanumerics, spaces allowed every
//                4), kept unless the ISO 7064 mod-97 checksum holds
//   credit_card  13..19 digits, unbroken or grouped as printed (4-4-4-n, Amex 4-6-5) with one
//                kind of separator (space or dash); kept unless the Luhn check holds
//   ssn          US social security numbers NNN-NN-NNNN (invalid area/group/serial kept)
// Extra patterns are PCRE2 regular expressions, replaced by "[REDACTED:custom]".
//
// Matching uses PCRE2 with a match limit, so a pathological pattern cannot hang the agent: if a
// pattern hits the limit, the rest of the text from that point is replaced by
// "[REDACTED:unscanned]" (fail closed). Text need not be valid UTF-8. A Redactor is immutable
// once made; copies share the compiled patterns; redact() is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace r1 {

class Redactor {
 public:
  // `builtin` enables the patterns above. kInvalidArgument naming the pattern (its index and
  // text) and PCRE2's message with the offset when an extra pattern does not compile.
  static Result<Redactor> create(bool builtin, const std::vector<std::string>& extra_patterns);

  // A Redactor that changes nothing.
  Redactor();

  // `text` with every match replaced. Unchanged text when nothing matches.
  std::string redact(std::string_view text) const;

  // Number of patterns in use (built-in and extra).
  size_t pattern_count() const;

  struct Pattern;  // compiled PCRE2 pattern with its kind and validator

 private:
  std::vector<std::shared_ptr<const Pattern>> patterns_;
};

}  // namespace r1
