// Status and Result<T>: errors as values.
//
// A Status is either OK or carries a code and a one-line message that names the input at
// fault (file, key, byte offset). Result<T> holds either a T or a non-OK Status. Both are
// cheap to move and are not thread-safe to mutate concurrently (plain values).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace r1 {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad input from the user or a file: exit code 2
  kNotFound,
  kIoError,
  kOutOfRange,
  kUnsupported,
  kInternal,  // runtime failure: exit code 1
};

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status invalid(std::string msg) {
    return Status(StatusCode::kInvalidArgument, std::move(msg));
  }
  static Status not_found(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status io_error(std::string msg) { return Status(StatusCode::kIoError, std::move(msg)); }
  static Status out_of_range(std::string msg) {
    return Status(StatusCode::kOutOfRange, std::move(msg));
  }
  static Status unsupported(std::string msg) {
    return Status(StatusCode::kUnsupported, std::move(msg));
  }
  static Status internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }

  bool is_ok() const { return code_ == StatusCode::kOk; }
  explicit operator bool() const { return is_ok(); }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Exit code for the `r1` command: 0 ok, 2 bad input or usage, 1 anything else.
  int exit_code() const {
    switch (code_) {
      case StatusCode::kOk:
        return 0;
      case StatusCode::kInvalidArgument:
      case StatusCode::kOutOfRange:
      case StatusCode::kUnsupported:
      case StatusCode::kNotFound:
        return 2;
      default:
        return 1;
    }
  }

 private:
  Status(StatusCode code, std::string msg) : code_(code), message_(std::move(msg)) {}
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.is_ok() && "Result built from an OK status carries no value");
  }

  bool is_ok() const { return value_.has_value(); }
  explicit operator bool() const { return is_ok(); }
  const Status& status() const { return status_; }

  T& value() & {
    assert(value_);
    return *value_;
  }
  const T& value() const& {
    assert(value_);
    return *value_;
  }
  T value() && {
    assert(value_);
    return std::move(*value_);
  }  // by value: safe in range-for
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace r1

#define R1_RETURN_IF_ERROR(expr)                \
  do {                                          \
    ::r1::Status r1_status_ = (expr);           \
    if (!r1_status_.is_ok()) return r1_status_; \
  } while (0)
