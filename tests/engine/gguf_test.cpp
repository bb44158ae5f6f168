// GgufFile: real files, a hand-built image per value type and version, and a malformed corpus
// (built in-test and kept as files under tests/data/gguf-malformed, see
// scripts/make_malformed_gguf.py). Every malformed input must give a clean error naming the field.
#include "engine/gguf.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tests/test_paths.h"

namespace r1 {
namespace {

// ---- a small GGUF writer ---------------------------------------------------------------------

struct Bytes {
  std::vector<uint8_t> b;
  template <typename T>
  Bytes& put(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  Bytes& u8(uint8_t v) { return put(v); }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(std::string_view s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& raw(const Bytes& o) {
    b.insert(b.end(), o.b.begin(), o.b.end());
    return *this;
  }
};

// Typed values: the u32 type tag followed by the payload.
template <typename T>
Bytes scalar(GgufType t, T v) {
  Bytes out;
  out.u32(static_cast<uint32_t>(t)).put(v);
  return out;
}
Bytes val_u32(uint32_t v) {
  return scalar(GgufType::kUint32, v);
}
Bytes val_str(std::string_view s) {
  Bytes out;
  out.u32(static_cast<uint32_t>(GgufType::kString)).str(s);
  return out;
}
template <typename T>
Bytes val_array(GgufType elem, const std::vector<T>& xs) {
  Bytes out;
  out.u32(static_cast<uint32_t>(GgufType::kArray)).u32(static_cast<uint32_t>(elem)).u64(xs.size());
  for (T x : xs) out.put(x);
  return out;
}
Bytes val_str_array(const std::vector<std::string>& xs) {
  Bytes out;
  out.u32(static_cast<uint32_t>(GgufType::kArray)).u32(static_cast<uint32_t>(GgufType::kString));
  out.u64(xs.size());
  for (const auto& s : xs) out.str(s);
  return out;
}

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type = 0;               // TensorType number
  std::optional<uint64_t> offset;  // default: contiguous, aligned
  std::optional<uint32_t> n_dims;  // default: ne.size()
};

struct ImageSpec {
  std::string magic = "GGUF";
  uint32_t version = 3;
  std::optional<uint64_t> n_tensors, n_kv;  // default: the real counts
  std::vector<std::pair<std::string, Bytes>> kvs;
  std::vector<TensorSpec> tensors;
  uint64_t alignment = 32;             // used for layout; add general.alignment yourself
  std::optional<uint64_t> data_bytes;  // default: exactly what the tensors need
};

uint64_t tensor_bytes(const TensorSpec& t) {
  uint64_t n = 1;
  for (uint64_t d : t.ne) n *= d;
  const auto& tr = tensor_type_traits(static_cast<TensorType>(t.type));
  return tr.block_size ? n / tr.block_size * tr.type_size : 0;
}

std::vector<uint8_t> build(const ImageSpec& s) {
  Bytes out;
  out.b.insert(out.b.end(), s.magic.begin(), s.magic.end());
  out.u32(s.version);
  out.u64(s.n_tensors.value_or(s.tensors.size()));
  out.u64(s.n_kv.value_or(s.kvs.size()));
  for (const auto& [key, value] : s.kvs) out.str(key).raw(value);
  uint64_t next = 0, data_end = 0;
  for (const auto& t : s.tensors) {
    out.str(t.name).u32(t.n_dims.value_or(static_cast<uint32_t>(t.ne.size())));
    for (uint64_t d : t.ne) out.u64(d);
    out.u32(t.type);
    const uint64_t off = t.offset.value_or(next);
    out.u64(off);
    const uint64_t end = off + tensor_bytes(t);
    next = (end + s.alignment - 1) / s.alignment * s.alignment;
    data_end = std::max(data_end, end);
  }
  if (!s.tensors.empty()) {
    while (out.b.size() % s.alignment != 0) out.u8(0);
    const uint64_t n = s.data_bytes.value_or(data_end);
    for (uint64_t i = 0; i < n; ++i) out.u8(static_cast<uint8_t>(i * 7 + 1));
  }
  return out.b;
}

Result<std::unique_ptr<GgufFile>> parse(const std::vector<uint8_t>& image) {
  return GgufFile::from_buffer(image.data(), image.size(), "test.gguf");
}

// A small valid model-like image: metadata plus two f32 tensors whose sizes are multiples of
// the alignment, so the file has no trailing padding and every truncation cuts real data.
ImageSpec small_model() {
  ImageSpec s;
  s.kvs.emplace_back("general.architecture", val_str("llama"));
  s.kvs.emplace_back("llama.block_count", val_u32(2));
  s.kvs.emplace_back("tokenizer.ggml.tokens", val_str_array({"a", "b", "<s>"}));
  s.kvs.emplace_back("tokenizer.ggml.scores", val_array<float>(GgufType::kFloat32, {0, -1, -2}));
  s.tensors.push_back({"token_embd.weight", {8, 3}, 0});
  s.tensors.push_back({"output_norm.weight", {8}, 0});
  return s;
}

// Expects a clean kInvalidArgument whose message names `field`.
void expect_error(const std::vector<uint8_t>& image, const std::string& field) {
  auto r = parse(image);
  REQUIRE_FALSE(r.is_ok());
  const std::string& msg = r.status().message();
  INFO("message: " << msg);
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(msg.rfind("test.gguf: ", 0) == 0);
  CHECK(msg.find(field) != std::string::npos);
}

}  // namespace

TEST_SUITE("parsers") {
  // ---- real files
  // --------------------------------------------------------------------------------

  TEST_CASE("gguf: reads the gpt-2 vocab file") {
    auto r = GgufFile::open(test::shared_path("reference/tokenizer/ggml-vocab-gpt-2.gguf"));
    REQUIRE_MESSAGE(r.is_ok(), r.status().message());
    const GgufFile& f = **r;
    CHECK(f.version() == 3);
    CHECK(f.tensors().empty());
    auto model = f.get_string("tokenizer.ggml.model");
    REQUIRE(model.is_ok());
    CHECK(model.value() == "gpt2");
    auto tokens = f.get_string_array("tokenizer.ggml.tokens");
    REQUIRE(tokens.is_ok());
    CHECK(tokens.value().size() > 50000);
    CHECK(tokens.value()[0] == "!");
    CHECK(gguf_check_model_caps(f, "gpt2").is_ok());
  }

  TEST_CASE("gguf: reads the SmolLM2 model and every tensor lies inside the file") {
    const std::string path = test::model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
    if (!std::filesystem::exists(path)) {
      MESSAGE("skipped: " << path << " is missing (see DESIGN.md, Models and data)");
      return;
    }
    auto r = GgufFile::open(path);
    REQUIRE_MESSAGE(r.is_ok(), r.status().message());
    const GgufFile& f = **r;
    CHECK(f.get_string("general.architecture").value() == "llama");
    CHECK(f.get_uint("llama.block_count").value() == 30);
    CHECK(f.get_int("llama.block_count").value() == 30);
    CHECK(f.get_float("llama.rope.freq_base").is_ok());
    CHECK(gguf_check_model_caps(f, "llama").is_ok());

    const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
    REQUIRE(embd != nullptr);
    CHECK(embd->n_dims == 2);
    CHECK(embd->ne[0] == static_cast<int64_t>(f.get_uint("llama.embedding_length").value()));
    CHECK(embd->ne[1] ==
          static_cast<int64_t>(f.get_string_array("tokenizer.ggml.tokens").value().size()));
    CHECK(f.find_tensor("no.such.tensor") == nullptr);

    CHECK(f.data_offset() % f.alignment() == 0);
    const uint8_t* file_begin =
        f.tensors().front().data - f.tensors().front().offset - f.data_offset();
    for (const GgufTensorInfo& t : f.tensors()) {
      INFO(t.name);
      CHECK(t.n_bytes > 0);
      CHECK(t.data >= file_begin + f.data_offset());
      CHECK(t.data + t.n_bytes <= file_begin + f.file_size());
      CHECK(t.n_bytes ==
            static_cast<uint64_t>(tensor_row_bytes(t.type, t.ne[0]) * t.ne[1] * t.ne[2] * t.ne[3]));
    }
  }

  TEST_CASE("gguf: open() reports missing and non-GGUF files") {
    auto missing = GgufFile::open("/nonexistent/dir/model.gguf");
    REQUIRE_FALSE(missing.is_ok());
    CHECK(missing.status().code() == StatusCode::kNotFound);
    CHECK(missing.status().message().find("/nonexistent/dir/model.gguf") != std::string::npos);

    auto dir = GgufFile::open(test::source_path("tests"));
    REQUIRE_FALSE(dir.is_ok());

    const auto tmp = std::filesystem::temp_directory_path() / "r1_gguf_test_empty.gguf";
    { std::ofstream(tmp, std::ios::binary); }
    auto empty = GgufFile::open(tmp.string());
    REQUIRE_FALSE(empty.is_ok());
    CHECK(empty.status().message().find("magic") != std::string::npos);
    std::filesystem::remove(tmp);
  }

  TEST_CASE("gguf: open() maps a written file and agrees with from_buffer()") {
    const auto image = build(small_model());
    const auto tmp = std::filesystem::temp_directory_path() / "r1_gguf_test_small.gguf";
    {
      std::ofstream out(tmp, std::ios::binary);
      out.write(reinterpret_cast<const char*>(image.data()), image.size());
    }
    auto r = GgufFile::open(tmp.string());
    std::filesystem::remove(tmp);  // the mapping stays valid after unlink
    REQUIRE_MESSAGE(r.is_ok(), r.status().message());
    CHECK((*r)->file_size() == image.size());
    REQUIRE((*r)->tensors().size() == 2);
    const GgufTensorInfo& t = (*r)->tensors()[1];
    CHECK(std::memcmp(t.data, image.data() + (*r)->data_offset() + t.offset, t.n_bytes) == 0);
  }

  // ---- valid images
  // --------------------------------------------------------------------------------

  TEST_CASE("gguf: every value type round-trips, versions 2 and 3") {
    for (uint32_t version : {2u, 3u}) {
      CAPTURE(version);
      ImageSpec s;
      s.version = version;
      s.kvs.emplace_back("u8", scalar<uint8_t>(GgufType::kUint8, 200));
      s.kvs.emplace_back("i8", scalar<int8_t>(GgufType::kInt8, -100));
      s.kvs.emplace_back("u16", scalar<uint16_t>(GgufType::kUint16, 60000));
      s.kvs.emplace_back("i16", scalar<int16_t>(GgufType::kInt16, -30000));
      s.kvs.emplace_back("u32", scalar<uint32_t>(GgufType::kUint32, 4000000000u));
      s.kvs.emplace_back("i32", scalar<int32_t>(GgufType::kInt32, -2000000000));
      s.kvs.emplace_back("f32", scalar<float>(GgufType::kFloat32, 1.5f));
      s.kvs.emplace_back("bool", scalar<uint8_t>(GgufType::kBool, 1));
      s.kvs.emplace_back("str", val_str("hello"));
      s.kvs.emplace_back("u64", scalar<uint64_t>(GgufType::kUint64, ~0ull));
      s.kvs.emplace_back("i64", scalar<int64_t>(GgufType::kInt64, -(1ll << 62)));
      s.kvs.emplace_back("f64", scalar<double>(GgufType::kFloat64, -2.25));
      s.kvs.emplace_back("empty_str", val_str(""));
      s.kvs.emplace_back("arr_i16", val_array<int16_t>(GgufType::kInt16, {-1, 2, -3}));
      s.kvs.emplace_back("arr_u64", val_array<uint64_t>(GgufType::kUint64, {1, ~0ull}));
      s.kvs.emplace_back("arr_f64", val_array<double>(GgufType::kFloat64, {0.5, -4}));
      s.kvs.emplace_back("arr_bool", val_array<uint8_t>(GgufType::kBool, {0, 1, 1}));
      s.kvs.emplace_back("arr_str", val_str_array({"x", "", "yz"}));
      s.kvs.emplace_back("arr_empty", val_array<uint32_t>(GgufType::kUint32, {}));
      {
        // [[1, 2], [3]] as an array of uint8 arrays.
        Bytes nested;
        nested.u32(static_cast<uint32_t>(GgufType::kArray))
            .u32(static_cast<uint32_t>(GgufType::kArray))
            .u64(2);
        nested.u32(static_cast<uint32_t>(GgufType::kUint8)).u64(2).u8(1).u8(2);
        nested.u32(static_cast<uint32_t>(GgufType::kUint8)).u64(1).u8(3);
        s.kvs.emplace_back("nested", nested);
      }
      auto image = build(s);
      auto r = parse(image);
      REQUIRE_MESSAGE(r.is_ok(), r.status().message());
      const GgufFile& f = **r;
      CHECK(f.version() == version);
      CHECK(f.metadata().size() == s.kvs.size());
      CHECK(f.metadata()[0].offset == 24);
      CHECK(f.tensors().empty());

      CHECK(f.get_uint("u8").value() == 200);
      CHECK(f.get_int("i8").value() == -100);
      CHECK(f.get_uint("u16").value() == 60000);
      CHECK(f.get_int("i16").value() == -30000);
      CHECK(f.get_uint("u32").value() == 4000000000u);
      CHECK(f.get_int("u32").value() == 4000000000ll);  // widened
      CHECK(f.get_int("i32").value() == -2000000000);
      CHECK(f.get_float("f32").value() == 1.5);
      CHECK(f.get_bool("bool").value() == true);
      CHECK(f.get_string("str").value() == "hello");
      CHECK(f.get_string("empty_str").value().empty());
      CHECK(f.get_uint("u64").value() == ~0ull);
      CHECK(f.get_int("i64").value() == -(1ll << 62));
      CHECK(f.get_float("f64").value() == -2.25);
      CHECK(f.get_float("i16").value() == -30000.0);  // any numeric type
      CHECK(f.get_float("u64").value() == doctest::Approx(18446744073709551615.0));

      CHECK(f.get_int_array("arr_i16").value() == std::vector<int64_t>{-1, 2, -3});
      CHECK(f.get_float_array("arr_i16").value() == std::vector<float>{-1, 2, -3});
      CHECK(f.get_float_array("arr_f64").value() == std::vector<float>{0.5f, -4});
      CHECK(f.get_string_array("arr_str").value() == std::vector<std::string_view>{"x", "", "yz"});
      CHECK(f.get_int_array("arr_empty").value().empty());
      const GgufValue* b = f.find("arr_bool");
      REQUIRE(b != nullptr);
      CHECK(b->elem_type == GgufType::kBool);
      CHECK(b->count == 3);
      CHECK(b->raw[1] == 1);
      const GgufValue* nested = f.find("nested");
      REQUIRE(nested != nullptr);
      CHECK(nested->elem_type == GgufType::kArray);
      REQUIRE(nested->items.size() == 2);
      CHECK(nested->items[0].count == 2);
      CHECK(nested->items[0].raw[1] == 2);
      CHECK(nested->items[1].raw[0] == 3);
    }
  }

  TEST_CASE("gguf: typed accessors refuse what does not fit") {
    ImageSpec s;
    s.kvs.emplace_back("neg", scalar<int32_t>(GgufType::kInt32, -5));
    s.kvs.emplace_back("big", scalar<uint64_t>(GgufType::kUint64, ~0ull));
    s.kvs.emplace_back("flag", scalar<uint8_t>(GgufType::kBool, 0));
    s.kvs.emplace_back("name", val_str("x"));
    s.kvs.emplace_back("floats", val_array<float>(GgufType::kFloat32, {1}));
    s.kvs.emplace_back("bigs", val_array<uint64_t>(GgufType::kUint64, {~0ull}));
    s.kvs.emplace_back("words", val_str_array({"a"}));
    auto image = build(s);
    auto r = parse(image);
    REQUIRE(r.is_ok());
    const GgufFile& f = **r;

    auto missing = f.get_uint("nope");
    REQUIRE_FALSE(missing.is_ok());
    CHECK(missing.status().code() == StatusCode::kNotFound);
    CHECK(missing.status().message().find("'nope'") != std::string::npos);
    CHECK(f.find("nope") == nullptr);

    auto neg = f.get_uint("neg");
    REQUIRE_FALSE(neg.is_ok());
    CHECK(neg.status().code() == StatusCode::kInvalidArgument);
    CHECK(neg.status().message().find("'neg'") != std::string::npos);
    CHECK(f.get_int("neg").value() == -5);
    CHECK_FALSE(f.get_int("big").is_ok());
    CHECK_FALSE(f.get_uint("flag").is_ok());
    CHECK_FALSE(f.get_float("flag").is_ok());
    CHECK_FALSE(f.get_bool("neg").is_ok());
    CHECK_FALSE(f.get_string("neg").is_ok());
    CHECK_FALSE(f.get_float("name").is_ok());
    auto wrong = f.get_string_array("floats");
    REQUIRE_FALSE(wrong.is_ok());
    CHECK(wrong.status().message().find("array of float32") != std::string::npos);
    CHECK_FALSE(f.get_int_array("floats").is_ok());
    CHECK_FALSE(f.get_int_array("bigs").is_ok());
    CHECK(f.get_float_array("bigs").is_ok());
    CHECK_FALSE(f.get_float_array("words").is_ok());
    CHECK_FALSE(f.get_float_array("name").is_ok());

    CHECK(f.get_uint_or("nope", 7).value() == 7);
    CHECK(f.get_float_or("nope", 0.25).value() == 0.25);
    CHECK(f.get_bool_or("nope", true).value() == true);
    CHECK(f.get_bool_or("flag", true).value() == false);
    CHECK_FALSE(f.get_uint_or("name", 7).is_ok());  // present but wrong type is an error
  }

  TEST_CASE("gguf: tensors are laid out by alignment and point into the image") {
    for (uint32_t alignment : {1u, 32u, 64u, 4096u}) {
      CAPTURE(alignment);
      ImageSpec s;
      s.alignment = alignment;
      s.kvs.emplace_back("general.alignment", val_u32(alignment));
      s.tensors.push_back({"a", {32, 2}, static_cast<uint32_t>(TensorType::kQ4_1)});  // 40 bytes
      s.tensors.push_back({"b", {3}, static_cast<uint32_t>(TensorType::kF16)});       // 6 bytes
      s.tensors.push_back({"c", {0, 5}, static_cast<uint32_t>(TensorType::kF32)});    // empty
      s.tensors.push_back({"d", {1, 1, 1, 2}, static_cast<uint32_t>(TensorType::kI8)});
      auto image = build(s);
      auto r = parse(image);
      REQUIRE_MESSAGE(r.is_ok(), r.status().message());
      const GgufFile& f = **r;
      CHECK(f.alignment() == alignment);
      CHECK(f.data_offset() % alignment == 0);
      REQUIRE(f.tensors().size() == 4);
      const GgufTensorInfo* a = f.find_tensor("a");
      REQUIRE(a != nullptr);
      CHECK(a->type == TensorType::kQ4_1);
      CHECK(a->n_dims == 2);
      CHECK(a->ne[1] == 2);
      CHECK(a->ne[2] == 1);
      CHECK(a->n_bytes == 40);
      CHECK(a->data == image.data() + f.data_offset());
      const GgufTensorInfo* b = f.find_tensor("b");
      CHECK(b->offset == (40 + alignment - 1) / alignment * alignment);
      CHECK(b->data == image.data() + f.data_offset() + b->offset);
      CHECK(f.find_tensor("c")->n_elements() == 0);
      CHECK(f.find_tensor("d")->n_elements() == 2);
    }
  }

  TEST_CASE("gguf: model caps reject absurd hyperparameters") {
    auto with = [](const char* key, Bytes value) {
      ImageSpec s;
      s.kvs.emplace_back("general.architecture", val_str("llama"));
      s.kvs.emplace_back(key, std::move(value));
      return build(s);
    };
    {
      auto image = with("llama.block_count", val_u32(30));
      CHECK(gguf_check_model_caps(**parse(image), "llama").is_ok());
    }
    struct Case {
      const char* key;
      Bytes value;
    };
    const Case cases[] = {
        {"llama.block_count", val_u32(5000)},
        {"llama.block_count", val_u32(0)},
        {"llama.attention.head_count", val_u32(1u << 20)},
        {"llama.attention.head_count_kv", scalar<int32_t>(GgufType::kInt32, -1)},
        {"llama.attention.head_count_kv", val_array<uint32_t>(GgufType::kUint32, {4, 99999})},
        {"llama.context_length", scalar<uint64_t>(GgufType::kUint64, 1ull << 40)},
        {"llama.embedding_length", val_str("4096")},
        {"llama.embedding_length", val_u32(2'000'000)},
    };
    for (const Case& c : cases) {
      CAPTURE(c.key);
      auto image = with(c.key, c.value);
      auto r = parse(image);
      REQUIRE(r.is_ok());
      Status st = gguf_check_model_caps(**r, "llama");
      REQUIRE_FALSE(st.is_ok());
      CHECK(st.message().find(c.key) != std::string::npos);
    }
  }

  // ---- malformed images
  // ----------------------------------------------------------------------------

  TEST_CASE("gguf: every truncation of a valid image is a clean error") {
    const auto image = build(small_model());
    REQUIRE(parse(image).is_ok());
    for (size_t n = 0; n < image.size(); ++n) {
      CAPTURE(n);
      // A right-sized heap copy so ASan sees any read past the cut.
      std::vector<uint8_t> cut(image.begin(), image.begin() + n);
      auto r = parse(cut);
      REQUIRE_FALSE(r.is_ok());
      CHECK(r.status().code() == StatusCode::kInvalidArgument);
    }
  }

  TEST_CASE("gguf: malformed header") {
    ImageSpec s = small_model();
    {
      ImageSpec bad = s;
      bad.magic = "GGML";
      expect_error(build(bad), "magic at byte 0");
    }
    for (uint32_t v : {0u, 1u, 4u, 0x03000000u}) {
      CAPTURE(v);
      ImageSpec bad = s;
      bad.version = v;
      expect_error(build(bad), "version at byte 4");
    }
    {
      ImageSpec bad = s;
      bad.n_kv = 1ull << 60;
      expect_error(build(bad), "n_kv at byte 16");
    }
    {
      ImageSpec bad = s;
      bad.n_kv = ~0ull;
      expect_error(build(bad), "n_kv");
    }
    {
      ImageSpec bad = s;
      bad.n_tensors = 1ull << 40;
      expect_error(build(bad), "n_tensors at byte 8");
    }
    {
      ImageSpec bad = s;
      bad.n_tensors = ~0ull / 2;
      expect_error(build(bad), "n_tensors");
    }
    {
      ImageSpec bad = s;  // claims one more kv than present: the tensor infos are misread
      bad.n_kv = s.kvs.size() + 1;
      CHECK_FALSE(parse(build(bad)).is_ok());
    }
  }

  TEST_CASE("gguf: malformed key/value pairs") {
    auto one_kv = [](std::string key, Bytes value) {
      ImageSpec s = small_model();
      s.kvs.emplace_back(std::move(key), std::move(value));
      return build(s);
    };
    {
      // Key length far past the end of the file.
      Bytes b;
      b.b = {'G', 'G', 'U', 'F'};
      b.u32(3).u64(0).u64(1).u64(1ull << 62).u64(0).u64(0);
      expect_error(b.b, "key #0 at byte 24: string length");
    }
    {
      // String value one byte longer than the file.
      ImageSpec s;
      Bytes v;
      v.u32(static_cast<uint32_t>(GgufType::kString)).u64(10).u8('a');
      s.kvs.emplace_back("general.name", v);
      expect_error(build(s), "key 'general.name' at byte 48: string length 10 exceeds");
    }
    {
      ImageSpec s;
      Bytes v;
      v.u32(static_cast<uint32_t>(GgufType::kString)).u64(~0ull);
      s.kvs.emplace_back("general.name", v);
      expect_error(build(s), "key 'general.name'");
    }
    {
      Bytes v;
      v.u32(13).u32(0);
      expect_error(one_kv("weird", v), "key 'weird' at byte ");
      CHECK(parse(one_kv("weird", v)).status().message().find("unknown value type 13") !=
            std::string::npos);
    }
    {
      Bytes v;
      v.u32(static_cast<uint32_t>(GgufType::kArray)).u32(77).u64(0);
      expect_error(one_kv("arr", v), "key 'arr'");
      CHECK(parse(one_kv("arr", v)).status().message().find("unknown value type 77") !=
            std::string::npos);
    }
    {
      // count * 8 wraps to 0 in 64 bits.
      Bytes v;
      v.u32(static_cast<uint32_t>(GgufType::kArray))
          .u32(static_cast<uint32_t>(GgufType::kUint64))
          .u64(1ull << 61);
      expect_error(one_kv("arr", v), "key 'arr'");
      CHECK(parse(one_kv("arr", v)).status().message().find("overflows") != std::string::npos);
    }
    {
      Bytes v;
      v.u32(static_cast<uint32_t>(GgufType::kArray))
          .u32(static_cast<uint32_t>(GgufType::kString))
          .u64(1ull << 40);
      expect_error(one_kv("arr", v), "key 'arr'");
    }
    {
      // Depth bomb: 1000 nested array headers.
      Bytes v;
      v.u32(static_cast<uint32_t>(GgufType::kArray));
      for (int i = 0; i < 1000; ++i) v.u32(static_cast<uint32_t>(GgufType::kArray)).u64(1);
      expect_error(one_kv("deep", v), "key 'deep'");
      CHECK(parse(one_kv("deep", v)).status().message().find("nested") != std::string::npos);
    }
    {
      expect_error(one_kv("b", scalar<uint8_t>(GgufType::kBool, 2)), "key 'b'");
      expect_error(one_kv("b", val_array<uint8_t>(GgufType::kBool, {0, 1, 7})), "key 'b'");
    }
    {
      expect_error(one_kv("general.architecture", val_str("again")),
                   "key 'general.architecture' at byte");
      CHECK(parse(one_kv("general.architecture", val_str("again")))
                .status()
                .message()
                .find("duplicate") != std::string::npos);
    }
    for (uint32_t a : {0u, 3u, 48u}) {
      CAPTURE(a);
      expect_error(one_kv("general.alignment", val_u32(a)), "key 'general.alignment'");
    }
    expect_error(one_kv("general.alignment", scalar<uint64_t>(GgufType::kUint64, 32)),
                 "key 'general.alignment'");
    expect_error(one_kv("general.alignment", val_str("32")), "key 'general.alignment'");
  }

  TEST_CASE("gguf: malformed tensor infos") {
    auto with_tensor = [](TensorSpec t) {
      ImageSpec s = small_model();
      s.tensors.push_back(std::move(t));
      s.data_bytes = 128;  // just the two model tensors; never what a bogus shape claims
      return build(s);
    };
    {
      TensorSpec t{"t", {8}, 0};
      t.n_dims = 0;
      expect_error(with_tensor(t), "tensor 't' n_dims");
    }
    {
      TensorSpec t{"t", {8, 1, 1, 1, 1}, 0};
      expect_error(with_tensor(t), "tensor 't' n_dims");
    }
    expect_error(with_tensor({"t", {8, ~0ull}, 0}), "tensor 't' ne[1]");  // -1
    expect_error(with_tensor({"t", {8, 1ull << 63}, 0}), "tensor 't' ne[1]");
    expect_error(with_tensor({"t", {1ull << 32, 1ull << 32}, 0}), "tensor 't' ne[1]");
    expect_error(with_tensor({"t", {1ull << 40, 1, 1ull << 30}, 0}), "tensor 't' ne[2]");
    expect_error(with_tensor({"t", {8}, 4}), "tensor 't' type");
    expect_error(with_tensor({"t", {8}, 99}), "tensor 't' type");
    expect_error(with_tensor({"t", {16}, static_cast<uint32_t>(TensorType::kQ4_0)}),
                 "tensor 't' ne[0]");
    {
      // Huge but block-aligned: product fits, bytes run past the file.
      expect_error(with_tensor({"t", {1ull << 40, 1ull << 20}, 0}), "tensor 't' offset");
    }
    {
      TensorSpec t{"t", {8}, 0};
      t.offset = 96 + 16;  // after the two model tensors (96 + 32 padded), but misaligned
      expect_error(with_tensor(t), "tensor 't' offset");
      CHECK(parse(with_tensor(t)).status().message().find("not a multiple of alignment 32") !=
            std::string::npos);
    }
    {
      TensorSpec t{"t", {8}, 0};
      t.offset = 96;  // == output_norm.weight's offset
      expect_error(with_tensor(t), "tensor 't' offset");
      CHECK(parse(with_tensor(t)).status().message().find("overlaps") != std::string::npos);
    }
    {
      TensorSpec t{"t", {8}, 0};
      t.offset = 64 * 32;  // a gap, and past the data
      expect_error(with_tensor(t), "tensor 't' offset");
    }
    {
      ImageSpec s = small_model();
      s.data_bytes = 96 + 16;  // last tensor cut short
      expect_error(build(s), "tensor 'output_norm.weight' offset");
    }
    {
      ImageSpec s = small_model();
      s.tensors.push_back({"token_embd.weight", {8}, 0});
      expect_error(build(s), "tensor 'token_embd.weight' name");
      CHECK(parse(build(s)).status().message().find("duplicate") != std::string::npos);
    }
    {
      ImageSpec s = small_model();
      s.tensors[0].name = std::string(1, '\xff') + "x";  // binary names are quoted safely
      s.tensors[0].type = 4;
      expect_error(build(s), "tensor '\\xffx' type");
    }
  }

  TEST_CASE("gguf: the malformed corpus files all fail cleanly") {
    const std::filesystem::path dir = test::source_path("tests/data/gguf-malformed");
    REQUIRE(std::filesystem::is_directory(dir));
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".gguf") continue;
      ++n;
      CAPTURE(entry.path().filename().string());
      auto r = GgufFile::open(entry.path().string());
      REQUIRE_FALSE(r.is_ok());
      INFO("message: " << r.status().message());
      CHECK(r.status().code() == StatusCode::kInvalidArgument);
      CHECK(r.status().message().rfind(entry.path().string() + ": ", 0) == 0);
      CHECK(r.status().message().find(" at byte ") != std::string::npos);
    }
    CHECK(n >= 25);
  }

  TEST_CASE("gguf: the valid seed files open") {
    const std::filesystem::path dir = test::source_path("tests/data/gguf-valid");
    REQUIRE(std::filesystem::is_directory(dir));
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() != ".gguf") continue;
      ++n;
      CAPTURE(entry.path().filename().string());
      auto r = GgufFile::open(entry.path().string());
      CHECK_MESSAGE(r.is_ok(), r.status().message());
    }
    CHECK(n >= 2);
  }

}  // TEST_SUITE("parsers")

}  // namespace r1
