// Redaction of each built-in pattern with near-miss negatives (a 16-digit number that fails Luhn
// is kept), extra patterns, errors that name the bad pattern, and the fail-closed match limit.
#include "policies/redactor.h"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

namespace r1 {
namespace {

Redactor builtin() {
  Result<Redactor> r = Redactor::create(true, {});
  REQUIRE_MESSAGE(r.is_ok(), r.status().message());
  return r.value();
}

TEST_CASE("redactor: e-mail addresses") {
  Redactor r = builtin();
  CHECK(r.redact("mail ada.lovelace+x@math.example.co.uk now") == "mail [REDACTED:email] now");
  CHECK(r.redact("user@localhost and a @ sign") == "user@localhost and a @ sign");
}

TEST_CASE("redactor: credit cards only when the Luhn check holds") {
  Redactor r = builtin();
  CHECK(r.redact("card 4111 1111 1111 1111 exp") == "card [REDACTED:credit_card] exp");
  CHECK(r.redact("card 4111-1111-1111-1111") == "card [REDACTED:credit_card]");
  CHECK(r.redact("5500005555555559") == "[REDACTED:credit_card]");
  CHECK(r.redact("order 4111111111111112 shipped") == "order 4111111111111112 shipped");
  CHECK(r.redact("id 1234567890123456") == "id 1234567890123456");  // fails Luhn: kept
  CHECK(r.redact("year 2024, 42 items") == "year 2024, 42 items");
}

TEST_CASE("redactor: AWS keys, API keys and bearer tokens") {
  Redactor r = builtin();
  CHECK(r.redact("key=AKIAIOSFODNN7EXAMPLE;") == "key=[REDACTED:aws_key];");
  CHECK(r.redact("AKIAshort") == "AKIAshort");
  CHECK(r.redact("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx1234") ==
        "OPENAI_API_KEY=[REDACTED:api_key]");
  CHECK(r.redact("token ghp_0123456789abcdefghijklmnopqrstuvwxyzAB") == "token [REDACTED:api_key]");
  CHECK(r.redact("task-list and sk-short") == "task-list and sk-short");
  CHECK(r.redact("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature") ==
        "Authorization: Bearer [REDACTED:bearer_token]");
  CHECK(r.redact("authorization: bearer abcdefgh12345678==") ==
        "authorization: bearer [REDACTED:bearer_token]");
  CHECK(r.redact("the bearer of bad news") == "the bearer of bad news");
}

TEST_CASE("redactor: US social security numbers") {
  Redactor r = builtin();
  CHECK(r.redact("SSN 123-45-6789.") == "SSN [REDACTED:ssn].");
  CHECK(r.redact("000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000") ==
        "000-12-3456 666-12-3456 900-12-3456 123-00-4567 123-45-0000");
  CHECK(r.redact("phone 555-123-4567") == "phone 555-123-4567");
}

TEST_CASE("redactor: IBANs only when the mod-97 checksum holds") {
  Redactor r = builtin();
  CHECK(r.redact("pay to DE89 3704 0044 0532 0130 00 today") == "pay to [REDACTED:iban] today");
  CHECK(r.redact("GB82WEST12345698765432") == "[REDACTED:iban]");
  CHECK(r.redact("GB82WEST12345698765433") == "GB82WEST12345698765433");  // bad checksum
}

TEST_CASE("redactor: private key PEM blocks, whole") {
  Redactor r = builtin();
  std::string pem =
      "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\nabcd==\n"
      "-----END RSA PRIVATE KEY-----\nafter";
  CHECK(r.redact(pem) == "before\n[REDACTED:private_key]\nafter");
  std::string pub = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----";
  CHECK(r.redact(pub) == pub);
}

TEST_CASE("redactor: extra patterns, bad patterns and the empty redactor") {
  Result<Redactor> r = Redactor::create(false, {"ACME-[0-9]{6}"});
  REQUIRE(r.is_ok());
  CHECK(r->redact("ticket ACME-123456 by a@b.org") == "ticket [REDACTED:custom] by a@b.org");
  CHECK(r->pattern_count() == 1);
  Result<Redactor> bad = Redactor::create(true, {"ok", "ACME-([0-9]"});
  REQUIRE_FALSE(bad.is_ok());
  CHECK_MESSAGE(bad.status().message().find("redaction pattern 2 \"ACME-([0-9]\"") == 0,
                bad.status().message());
  CHECK_FALSE(Redactor::create(false, {""}).is_ok());
  CHECK(Redactor().redact("a@b.org 123-45-6789") == "a@b.org 123-45-6789");
}

TEST_CASE("redactor: a catastrophic pattern fails closed instead of hanging") {
  Result<Redactor> r = Redactor::create(false, {"(a+)+$"});
  REQUIRE(r.is_ok());
  std::string text = "ok " + std::string(5000, 'a') + "!";
  std::string out = r->redact(text);
  CHECK(out.find("[REDACTED:unscanned]") != std::string::npos);
  CHECK(out.find(std::string(100, 'a')) == std::string::npos);
}

TEST_CASE("redactor: invalid UTF-8 and concurrent use") {
  Redactor r = builtin();
  CHECK(r.redact("\xff\xfe a@b.org \xc3") == "\xff\xfe [REDACTED:email] \xc3");
  std::vector<std::thread> threads;
  std::vector<std::string> out(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] { out[i] = r.redact("x" + std::to_string(i) + "@y.org"); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) CHECK(out[i] == "[REDACTED:email]");
}

}  // namespace
}  // namespace r1
