// GGUF reader. The byte layout it accepts (all integers little-endian, no implicit padding):
//
//   offset  size   field
//   0       4      magic        "GGUF" (0x47 0x47 0x55 0x46)
//   4       4      version      u32: 2 or 3 (1 used u32 counts and is rejected; a byte-swapped
//                               version means a big-endian file, also rejected)
//   8       8      n_tensors    u64
//   16      8      n_kv         u64
//   24      ...    n_kv key/value pairs:
//                    key        gguf string
//                    type       u32 GgufType (0..12)
//                    value      see below
//           ...    n_tensors tensor infos:
//                    name       gguf string
//                    n_dims     u32, 1..4
//                    ne         n_dims x u64, ne[0] innermost; each < 2^63, product < 2^63,
//                               ne[0] a multiple of the type's block size
//                    type       u32 TensorType (tensor_type_known())
//                    offset     u64, relative to the data section, multiple of the alignment
//           ...    zero padding up to a multiple of `general.alignment` (u32 power of two,
//                  default 32): this is data_offset
//   data_offset    tensor data. Tensors lie in info order, each starting at the end of the
//                  previous one rounded up to the alignment (the layout llama.cpp writes and
//                  requires), and each ends inside the file.
//
//   gguf string  = u64 length + that many bytes (no terminator, not validated as UTF-8)
//   value        = uint8/int8/bool: 1 byte (bool must be 0 or 1); uint16/int16: 2;
//                  uint32/int32/float32: 4; uint64/int64/float64: 8; string: gguf string;
//                  array: u32 element type + u64 count + count packed elements (strings are
//                  gguf strings, nested arrays are again type + count + elements; nesting
//                  deeper than kMaxArrayDepth is rejected).
//
// Validation rule: every count is multiplied by the smallest encoding of one element and
// checked against the bytes left in the image before anything is reserved, so memory use is
// bounded by a small multiple of the file size whatever the header claims.
#include "engine/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace r1 {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader copies little-endian fields directly");

namespace {

constexpr uint32_t kNumValueTypes = 13;
constexpr int kMaxArrayDepth = 3;  // array of array of array; real files use 1
constexpr uint64_t kDefaultAlignment = 32;
// Smallest on-disk encodings, used to bound counts before allocating.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;                  // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim

// Bytes of one element on disk; the minimum for strings (empty) and arrays (empty).
uint64_t min_value_bytes(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
    case GgufType::kInt8:
    case GgufType::kBool:
      return 1;
    case GgufType::kUint16:
    case GgufType::kInt16:
      return 2;
    case GgufType::kUint32:
    case GgufType::kInt32:
    case GgufType::kFloat32:
      return 4;
    case GgufType::kUint64:
    case GgufType::kInt64:
    case GgufType::kFloat64:
    case GgufType::kString:
      return 8;
    case GgufType::kArray:
      return 12;
  }
  return 1;
}

bool is_unsigned(GgufType t) {
  return t == GgufType::kUint8 || t == GgufType::kUint16 || t == GgufType::kUint32 ||
         t == GgufType::kUint64;
}
bool is_signed(GgufType t) {
  return t == GgufType::kInt8 || t == GgufType::kInt16 || t == GgufType::kInt32 ||
         t == GgufType::kInt64;
}
bool is_float(GgufType t) {
  return t == GgufType::kFloat32 || t == GgufType::kFloat64;
}
bool is_integer(GgufType t) {
  return is_unsigned(t) || is_signed(t);
}

template <typename T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Reads one packed element of a numeric array as double / int64. `p` may be misaligned.
double load_as_double(GgufType t, const uint8_t* p) {
  switch (t) {
    case GgufType::kUint8:
      return load<uint8_t>(p);
    case GgufType::kInt8:
      return load<int8_t>(p);
    case GgufType::kUint16:
      return load<uint16_t>(p);
    case GgufType::kInt16:
      return load<int16_t>(p);
    case GgufType::kUint32:
      return load<uint32_t>(p);
    case GgufType::kInt32:
      return load<int32_t>(p);
    case GgufType::kFloat32:
      return load<float>(p);
    case GgufType::kUint64:
      return static_cast<double>(load<uint64_t>(p));
    case GgufType::kInt64:
      return static_cast<double>(load<int64_t>(p));
    case GgufType::kFloat64:
      return load<double>(p);
    default:
      return 0.0;
  }
}

// Bounds-checked cursor over the image. Every failure names the image, the field and the
// byte offset where the field starts.
class Cursor {
 public:
  Cursor(const uint8_t* base, uint64_t size, const std::string& name)
      : base_(base), size_(size), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const uint8_t* here() const { return base_ + pos_; }

  Status fail(uint64_t at, std::string_view field, std::string_view what) const {
    std::string msg = name_;
    msg += ": ";
    msg += field;
    msg += " at byte ";
    msg += std::to_string(at);
    msg += ": ";
    msg += what;
    return Status::invalid(std::move(msg));
  }

  // Advances past n bytes, or fails with "truncated".
  Status take(uint64_t n, std::string_view field, const uint8_t** out) {
    if (n > remaining()) {
      return fail(pos_, field,
                  "truncated: needs " + std::to_string(n) + " bytes, file has " +
                      std::to_string(remaining()) + " left");
    }
    *out = base_ + pos_;
    pos_ += n;
    return Status::ok();
  }

  template <typename T>
  Status read(T* out, std::string_view field) {
    const uint8_t* p = nullptr;
    R1_RETURN_IF_ERROR(take(sizeof(T), field, &p));
    std::memcpy(out, p, sizeof(T));
    return Status::ok();
  }

  Status read_string(std::string_view* out, std::string_view field) {
    const uint64_t at = pos_;
    uint64_t len = 0;
    R1_RETURN_IF_ERROR(read(&len, field));
    if (len > remaining()) {
      return fail(at, field,
                  "string length " + std::to_string(len) + " exceeds the " +
                      std::to_string(remaining()) + " bytes left in the file");
    }
    *out = std::string_view(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return Status::ok();
  }

  // Fails unless `count` elements of at least `min_bytes` each can fit in what is left.
  Status check_count(uint64_t at, std::string_view field, uint64_t count, uint64_t min_bytes,
                     std::string_view what) const {
    uint64_t need = 0;
    if (__builtin_mul_overflow(count, min_bytes, &need)) {
      return fail(at, field,
                  "count " + std::to_string(count) + " of " + std::string(what) +
                      " overflows 64 bits in size");
    }
    if (need > remaining()) {
      return fail(at, field,
                  "count " + std::to_string(count) + " of " + std::string(what) +
                      " needs at least " + std::to_string(need) + " bytes, file has " +
                      std::to_string(remaining()) + " left");
    }
    return Status::ok();
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& name_;
};

std::string quoted(std::string_view s) {
  // Keys and names come from the file: keep error lines printable and short.
  std::string out = "'";
  size_t n = 0;
  for (char ch : s) {
    if (++n > 80) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(ch);
    if (u >= 0x20 && u < 0x7f) {
      out += ch;
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  out += "'";
  return out;
}

Status read_value_type(Cursor& c, std::string_view field, GgufType* out) {
  const uint64_t at = c.pos();
  uint32_t raw = 0;
  R1_RETURN_IF_ERROR(c.read(&raw, field));
  if (raw >= kNumValueTypes) {
    return c.fail(at, field, "unknown value type " + std::to_string(raw));
  }
  *out = static_cast<GgufType>(raw);
  return Status::ok();
}

Status parse_value(Cursor& c, GgufType type, int depth, std::string_view field, GgufValue* out);

Status parse_array(Cursor& c, int depth, std::string_view field, GgufValue* out) {
  const uint64_t at = c.pos();
  GgufType elem = GgufType::kUint8;
  R1_RETURN_IF_ERROR(read_value_type(c, field, &elem));
  if (elem == GgufType::kArray && depth + 1 >= kMaxArrayDepth) {
    return c.fail(at, field,
                  "arrays nested deeper than " + std::to_string(kMaxArrayDepth) + " levels");
  }
  const uint64_t count_at = c.pos();
  uint64_t count = 0;
  R1_RETURN_IF_ERROR(c.read(&count, field));
  R1_RETURN_IF_ERROR(c.check_count(count_at, field, count, min_value_bytes(elem),
                                   std::string(gguf_type_name(elem)) + " array elements"));
  out->elem_type = elem;
  out->count = count;
  if (elem == GgufType::kString) {
    out->strings.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      std::string_view s;
      R1_RETURN_IF_ERROR(c.read_string(&s, field));
      out->strings.push_back(s);
    }
  } else if (elem == GgufType::kArray) {
    out->items.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      out->items.emplace_back();
      R1_RETURN_IF_ERROR(parse_value(c, GgufType::kArray, depth + 1, field, &out->items.back()));
    }
  } else {
    const uint64_t elem_at = c.pos();
    const uint8_t* p = nullptr;
    R1_RETURN_IF_ERROR(c.take(count * min_value_bytes(elem), field, &p));  // checked above
    if (elem == GgufType::kBool) {
      for (uint64_t i = 0; i < count; ++i) {
        if (p[i] > 1) {
          return c.fail(elem_at + i, field,
                        "bool array element " + std::to_string(i) + " is " + std::to_string(p[i]) +
                            ", expected 0 or 1");
        }
      }
    }
    out->raw = p;
  }
  return Status::ok();
}

Status parse_value(Cursor& c, GgufType type, int depth, std::string_view field, GgufValue* out) {
  out->type = type;
  const uint64_t at = c.pos();
  switch (type) {
    case GgufType::kUint8: {
      uint8_t v = 0;
      R1_RETURN_IF_ERROR(c.read(&v, field));
      out->u64 = v;
      break;
    }
    case GgufType::kInt8: {
      int8_t v = 0;
      R1_RETURN_IF_ERROR(c.read(&v, field));
      out->i64 = v;
      break;
    }
    case GgufType::kUint16: {
      uint16_t v = 0;
      R1_RETURN_IF_ERROR(c.read(&v, field));
      out->u64 = v;
      break;
    }
    case GgufType::kInt16: {
      int16_t v = 0;
      R1_RETURN_IF_ERROR(c.read(&v, field));
      out->i64 = v;
      break;
    }
    case GgufType::kUint32: {
      uint32_t v = 0;
      R1_RETURN_IF_ERROR(c.read(&v, field));
      out->u64 = v;
      break;
    }
    case GgufType::kInt32: {
      int32_t v = 0;
      R1_RETURN_IF_ERROR(c.read(&v, field));
      out->i64 = v;
      break;
    }
    case GgufType::kFloat32: {
      float v = 0;
      R1_RETURN_IF_ERROR(c.read(&v, field));
      out->f64 = v;
      break;
    }
    case GgufType::kBool: {
      uint8_t v = 0;
      R1_RETURN_IF_ERROR(c.read(&v, field));
      if (v > 1) return c.fail(at, field, "bool is " + std::to_string(v) + ", expected 0 or 1");
      out->u64 = v;
      break;
    }
    case GgufType::kString:
      R1_RETURN_IF_ERROR(c.read_string(&out->str, field));
      break;
    case GgufType::kArray:
      R1_RETURN_IF_ERROR(parse_array(c, depth, field, out));
      break;
    case GgufType::kUint64:
      R1_RETURN_IF_ERROR(c.read(&out->u64, field));
      break;
    case GgufType::kInt64:
      R1_RETURN_IF_ERROR(c.read(&out->i64, field));
      break;
    case GgufType::kFloat64:
      R1_RETURN_IF_ERROR(c.read(&out->f64, field));
      break;
  }
  return Status::ok();
}

bool align_up(uint64_t x, uint64_t alignment, uint64_t* out) {
  uint64_t bumped = 0;
  if (__builtin_add_overflow(x, alignment - 1, &bumped)) return false;
  *out = bumped / alignment * alignment;
  return true;
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::kUint8:
      return "uint8";
    case GgufType::kInt8:
      return "int8";
    case GgufType::kUint16:
      return "uint16";
    case GgufType::kInt16:
      return "int16";
    case GgufType::kUint32:
      return "uint32";
    case GgufType::kInt32:
      return "int32";
    case GgufType::kFloat32:
      return "float32";
    case GgufType::kBool:
      return "bool";
    case GgufType::kString:
      return "string";
    case GgufType::kArray:
      return "array";
    case GgufType::kUint64:
      return "uint64";
    case GgufType::kInt64:
      return "int64";
    case GgufType::kFloat64:
      return "float64";
  }
  return "unknown";
}

// ---- construction ------------------------------------------------------------------------------

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    std::string msg = path + ": cannot open: " + std::strerror(err);
    if (err == ENOENT) return Status::not_found(std::move(msg));
    return Status::io_error(std::move(msg));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::io_error(path + ": cannot stat: " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::invalid(path + ": not a regular file");
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ > 0) {
    void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return Status::io_error(path + ": cannot mmap: " + std::strerror(err));
    }
    file->base_ = static_cast<const uint8_t*>(p);
    file->owns_mapping_ = true;
  }
  ::close(fd);  // the mapping keeps the file referenced
  R1_RETURN_IF_ERROR(file->parse());
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_buffer(const uint8_t* data, size_t size,
                                                        std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(name);
  file->base_ = size > 0 ? data : nullptr;
  file->size_ = size;
  R1_RETURN_IF_ERROR(file->parse());
  return file;
}

GgufFile::~GgufFile() {
  if (owns_mapping_ && base_ != nullptr) {
    ::munmap(const_cast<uint8_t*>(base_), size_);
  }
}

// ---- parsing -----------------------------------------------------------------------------------

Status GgufFile::parse() {
  // An empty image still goes through the cursor so the error reads "truncated"; a null base
  // is never dereferenced because every take() of n > 0 bytes fails first.
  static const uint8_t kEmpty[1] = {0};
  Cursor c(base_ != nullptr ? base_ : kEmpty, size_, path_);

  const uint8_t* magic = nullptr;
  R1_RETURN_IF_ERROR(c.take(4, "magic", &magic));
  if (std::memcmp(magic, "GGUF", 4) != 0) {
    return c.fail(0, "magic",
                  "not a GGUF file (expected \"GGUF\", found " +
                      quoted(std::string_view(reinterpret_cast<const char*>(magic), 4)) + ")");
  }
  R1_RETURN_IF_ERROR(c.read(&version_, "version"));
  if (version_ == 1) {
    return c.fail(4, "version", "GGUF version 1 is not supported (only 2 and 3)");
  }
  if (version_ != 2 && version_ != 3) {
    if (version_ == 0x02000000u || version_ == 0x03000000u) {
      return c.fail(4, "version", "big-endian GGUF files are not supported");
    }
    return c.fail(4, "version",
                  "unknown GGUF version " + std::to_string(version_) + " (only 2 and 3)");
  }

  uint64_t n_tensors = 0;
  uint64_t n_kv = 0;
  R1_RETURN_IF_ERROR(c.read(&n_tensors, "n_tensors"));
  R1_RETURN_IF_ERROR(c.read(&n_kv, "n_kv"));
  R1_RETURN_IF_ERROR(c.check_count(16, "n_kv", n_kv, kMinKvBytes, "key/value pairs"));
  R1_RETURN_IF_ERROR(c.check_count(8, "n_tensors", n_tensors, kMinTensorInfoBytes, "tensor infos"));
  {
    uint64_t kv_bytes = n_kv * kMinKvBytes;  // both products checked just above
    uint64_t info_bytes = n_tensors * kMinTensorInfoBytes;
    uint64_t both = 0;
    if (__builtin_add_overflow(kv_bytes, info_bytes, &both) || both > c.remaining()) {
      return c.fail(8, "n_tensors",
                    std::to_string(n_kv) + " key/value pairs and " + std::to_string(n_tensors) +
                        " tensor infos cannot fit in the " + std::to_string(c.remaining()) +
                        " bytes left");
    }
  }

  // ---- key/value pairs
  kvs_.reserve(n_kv);
  kv_index_.reserve(n_kv);
  alignment_ = kDefaultAlignment;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t key_at = c.pos();
    std::string_view key;
    R1_RETURN_IF_ERROR(c.read_string(&key, "key #" + std::to_string(i)));
    const std::string field = "key " + quoted(key);
    if (kv_index_.count(key) != 0) return c.fail(key_at, field, "duplicate key");

    GgufType type = GgufType::kUint8;
    R1_RETURN_IF_ERROR(read_value_type(c, field, &type));
    const uint64_t value_at = c.pos();
    GgufKv kv;
    kv.key = std::string(key);
    kv.offset = key_at;
    R1_RETURN_IF_ERROR(parse_value(c, type, 0, field, &kv.value));

    if (key == "general.alignment") {
      // llama.cpp insists on u32 here; a wider type would hide a writer bug.
      if (type != GgufType::kUint32) {
        return c.fail(value_at, field,
                      std::string("alignment must be uint32, found ") + gguf_type_name(type));
      }
      const uint64_t a = kv.value.u64;
      if (a == 0 || (a & (a - 1)) != 0) {
        return c.fail(value_at, field,
                      "alignment " + std::to_string(a) + " is not a non-zero power of two");
      }
      alignment_ = a;
    }
    kv_index_.emplace(key, kvs_.size());
    kvs_.push_back(std::move(kv));
  }

  // ---- tensor infos
  R1_RETURN_IF_ERROR(c.check_count(8, "n_tensors", n_tensors, kMinTensorInfoBytes, "tensor infos"));
  tensors_.reserve(n_tensors);
  tensor_index_.reserve(n_tensors);
  std::vector<uint64_t> offset_field_at;  // byte of each tensor's offset field, for messages
  offset_field_at.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const uint64_t name_at = c.pos();
    std::string_view name;
    R1_RETURN_IF_ERROR(c.read_string(&name, "tensor #" + std::to_string(i) + " name"));
    const std::string field = "tensor " + quoted(name);
    if (tensor_index_.count(name) != 0) {
      return c.fail(name_at, field + " name", "duplicate tensor name");
    }
    GgufTensorInfo t;
    t.name = std::string(name);

    const uint64_t dims_at = c.pos();
    uint32_t n_dims = 0;
    R1_RETURN_IF_ERROR(c.read(&n_dims, field + " n_dims"));
    if (n_dims < 1 || n_dims > 4) {
      return c.fail(dims_at, field + " n_dims",
                    "n_dims " + std::to_string(n_dims) + " is outside 1..4");
    }
    t.n_dims = static_cast<int>(n_dims);
    int64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const std::string ne_field = field + " ne[" + std::to_string(d) + "]";
      const uint64_t ne_at = c.pos();
      uint64_t ne = 0;
      R1_RETURN_IF_ERROR(c.read(&ne, ne_field));
      if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return c.fail(ne_at, ne_field,
                      "dimension " + std::to_string(static_cast<int64_t>(ne)) + " is negative");
      }
      t.ne[d] = static_cast<int64_t>(ne);
      if (__builtin_mul_overflow(n_elements, t.ne[d], &n_elements)) {
        return c.fail(ne_at, ne_field, "element count overflows 63 bits");
      }
    }

    const uint64_t type_at = c.pos();
    uint32_t raw_type = 0;
    R1_RETURN_IF_ERROR(c.read(&raw_type, field + " type"));
    if (!tensor_type_known(raw_type)) {
      return c.fail(type_at, field + " type", "unknown tensor type " + std::to_string(raw_type));
    }
    t.type = static_cast<TensorType>(raw_type);
    const TensorTypeTraits& traits = tensor_type_traits(t.type);
    if (t.ne[0] % traits.block_size != 0) {
      return c.fail(dims_at + 4, field + " ne[0]",
                    "row length " + std::to_string(t.ne[0]) + " is not a multiple of the " +
                        traits.name + " block size " + std::to_string(traits.block_size));
    }
    // Bytes = blocks * block bytes. Blocks <= n_elements < 2^63 and a block is < 2^9 bytes,
    // but check anyway rather than rely on the table.
    uint64_t n_blocks = static_cast<uint64_t>(n_elements) / traits.block_size;
    if (__builtin_mul_overflow(n_blocks, static_cast<uint64_t>(traits.type_size), &t.n_bytes)) {
      return c.fail(dims_at, field + " ne", "byte size overflows 64 bits");
    }

    const uint64_t offset_at = c.pos();
    R1_RETURN_IF_ERROR(c.read(&t.offset, field + " offset"));
    if (t.offset % alignment_ != 0) {
      return c.fail(offset_at, field + " offset",
                    "offset " + std::to_string(t.offset) + " is not a multiple of alignment " +
                        std::to_string(alignment_));
    }
    tensor_index_.emplace(name, tensors_.size());
    tensors_.push_back(std::move(t));
    offset_field_at.push_back(offset_at);
  }

  // ---- data section
  if (!align_up(c.pos(), alignment_, &data_offset_)) {
    return c.fail(c.pos(), "data section", "aligned start overflows 64 bits");
  }
  if (data_offset_ > size_ && !tensors_.empty()) {
    return c.fail(c.pos(), "data section",
                  "starts at byte " + std::to_string(data_offset_) + ", past the end of the " +
                      std::to_string(size_) + "-byte file");
  }
  // A vocab-only file (no tensors) may end right after its tensor infos, unpadded.
  const uint64_t data_size = data_offset_ <= size_ ? size_ - data_offset_ : 0;
  uint64_t expected = 0;  // where the next tensor must start, relative to data_offset_
  for (size_t i = 0; i < tensors_.size(); ++i) {
    GgufTensorInfo& t = tensors_[i];
    const std::string field = "tensor " + quoted(t.name) + " offset";
    if (t.offset < expected) {
      return c.fail(offset_field_at[i], field,
                    "offset " + std::to_string(t.offset) + " overlaps tensor " +
                        quoted(tensors_[i - 1].name) + ", which ends at " +
                        std::to_string(tensors_[i - 1].offset + tensors_[i - 1].n_bytes));
    }
    if (t.offset > expected) {
      return c.fail(offset_field_at[i], field,
                    "offset " + std::to_string(t.offset) + " leaves a gap; tensors must be " +
                        "contiguous, expected " + std::to_string(expected));
    }
    uint64_t end = 0;
    if (__builtin_add_overflow(t.offset, t.n_bytes, &end) || end > data_size) {
      return c.fail(offset_field_at[i], field,
                    "tensor data [" + std::to_string(t.offset) + ", +" + std::to_string(t.n_bytes) +
                        ") runs past the end of the file (data section holds " +
                        std::to_string(data_size) + " bytes)");
    }
    t.data = base_ + data_offset_ + t.offset;
    if (!align_up(end, alignment_, &expected)) {
      return c.fail(offset_field_at[i], field, "aligned end overflows 64 bits");
    }
  }
  return Status::ok();
}

// ---- lookups -----------------------------------------------------------------------------------

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

Status absent(const std::string& path, std::string_view key) {
  return Status::not_found(path + ": key " + quoted(key) + " is missing");
}

Status wrong_type(const std::string& path, std::string_view key, const GgufKv& kv,
                  std::string_view wanted) {
  std::string found = gguf_type_name(kv.value.type);
  if (kv.value.type == GgufType::kArray) {
    found = std::string("array of ") + gguf_type_name(kv.value.elem_type);
  }
  return Status::invalid(path + ": key " + quoted(key) + " at byte " + std::to_string(kv.offset) +
                         ": expected " + std::string(wanted) + ", found " + found);
}

Status out_of_range_value(const std::string& path, std::string_view key, const GgufKv& kv,
                          std::string_view wanted) {
  return Status::invalid(path + ": key " + quoted(key) + " at byte " + std::to_string(kv.offset) +
                         ": value does not fit " + std::string(wanted));
}

}  // namespace

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return absent(path_, key);
  const GgufKv& kv = kvs_[it->second];
  if (is_unsigned(kv.value.type)) return kv.value.u64;
  if (is_signed(kv.value.type)) {
    if (kv.value.i64 < 0) return out_of_range_value(path_, key, kv, "an unsigned integer");
    return static_cast<uint64_t>(kv.value.i64);
  }
  return wrong_type(path_, key, kv, "an integer");
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return absent(path_, key);
  const GgufKv& kv = kvs_[it->second];
  if (is_signed(kv.value.type)) return kv.value.i64;
  if (is_unsigned(kv.value.type)) {
    if (kv.value.u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return out_of_range_value(path_, key, kv, "int64");
    }
    return static_cast<int64_t>(kv.value.u64);
  }
  return wrong_type(path_, key, kv, "an integer");
}

Result<double> GgufFile::get_float(std::string_view key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return absent(path_, key);
  const GgufKv& kv = kvs_[it->second];
  if (is_float(kv.value.type)) return kv.value.f64;
  if (is_unsigned(kv.value.type)) return static_cast<double>(kv.value.u64);
  if (is_signed(kv.value.type)) return static_cast<double>(kv.value.i64);
  return wrong_type(path_, key, kv, "a number");
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return absent(path_, key);
  const GgufKv& kv = kvs_[it->second];
  if (kv.value.type != GgufType::kBool) return wrong_type(path_, key, kv, "bool");
  return kv.value.u64 != 0;
}

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return absent(path_, key);
  const GgufKv& kv = kvs_[it->second];
  if (kv.value.type != GgufType::kString) return wrong_type(path_, key, kv, "string");
  return kv.value.str;
}

Result<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return absent(path_, key);
  const GgufKv& kv = kvs_[it->second];
  if (kv.value.type != GgufType::kArray || kv.value.elem_type != GgufType::kString) {
    return wrong_type(path_, key, kv, "array of string");
  }
  return kv.value.strings;
}

Result<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return absent(path_, key);
  const GgufKv& kv = kvs_[it->second];
  const GgufType elem = kv.value.elem_type;
  if (kv.value.type != GgufType::kArray || !(is_integer(elem) || is_float(elem))) {
    return wrong_type(path_, key, kv, "numeric array");
  }
  const uint64_t stride = min_value_bytes(elem);
  std::vector<float> out(kv.value.count);
  for (uint64_t i = 0; i < kv.value.count; ++i) {
    out[i] = static_cast<float>(load_as_double(elem, kv.value.raw + i * stride));
  }
  return out;
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
  auto it = kv_index_.find(key);
  if (it == kv_index_.end()) return absent(path_, key);
  const GgufKv& kv = kvs_[it->second];
  const GgufType elem = kv.value.elem_type;
  if (kv.value.type != GgufType::kArray || !is_integer(elem)) {
    return wrong_type(path_, key, kv, "integer array");
  }
  const uint64_t stride = min_value_bytes(elem);
  const uint8_t* p = kv.value.raw;
  std::vector<int64_t> out(kv.value.count);
  for (uint64_t i = 0; i < kv.value.count; ++i, p += stride) {
    switch (elem) {
      case GgufType::kUint8:
        out[i] = load<uint8_t>(p);
        break;
      case GgufType::kInt8:
        out[i] = load<int8_t>(p);
        break;
      case GgufType::kUint16:
        out[i] = load<uint16_t>(p);
        break;
      case GgufType::kInt16:
        out[i] = load<int16_t>(p);
        break;
      case GgufType::kUint32:
        out[i] = load<uint32_t>(p);
        break;
      case GgufType::kInt32:
        out[i] = load<int32_t>(p);
        break;
      case GgufType::kInt64:
        out[i] = load<int64_t>(p);
        break;
      case GgufType::kUint64: {
        const uint64_t v = load<uint64_t>(p);
        if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return out_of_range_value(path_, key, kv, "int64 (element " + std::to_string(i) + ")");
        }
        out[i] = static_cast<int64_t>(v);
        break;
      }
      default:
        break;
    }
  }
  return out;
}

Result<uint64_t> GgufFile::get_uint_or(std::string_view key, uint64_t fallback) const {
  if (find(key) == nullptr) return fallback;
  return get_uint(key);
}

Result<double> GgufFile::get_float_or(std::string_view key, double fallback) const {
  if (find(key) == nullptr) return fallback;
  return get_float(key);
}

Result<bool> GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  if (find(key) == nullptr) return fallback;
  return get_bool(key);
}

// ---- model caps --------------------------------------------------------------------------------

namespace {

// Checks an integer scalar, or every element of an integer array, against [min, max].
Status check_cap(const GgufFile& file, const std::string& key, uint64_t min, uint64_t max) {
  const GgufValue* v = file.find(key);
  if (v == nullptr) return Status::ok();
  auto describe = [&](std::string_view what) {
    return Status::invalid(file.path() + ": key " + quoted(key) + ": " + std::string(what));
  };
  auto in_range = [&](bool negative, uint64_t value) -> Status {
    if (negative || value < min || value > max) {
      return describe(
          (negative ? std::string("negative value") : "value " + std::to_string(value)) +
          " is outside the sane range " + std::to_string(min) + ".." + std::to_string(max));
    }
    return Status::ok();
  };
  if (v->type == GgufType::kArray) {
    if (!is_integer(v->elem_type)) return describe("expected an integer or integer array");
    auto values = file.get_int_array(key);
    if (!values.is_ok()) return values.status();
    for (int64_t x : values.value()) {
      R1_RETURN_IF_ERROR(in_range(x < 0, static_cast<uint64_t>(x)));
    }
    return Status::ok();
  }
  if (is_unsigned(v->type)) return in_range(false, v->u64);
  if (is_signed(v->type)) return in_range(v->i64 < 0, static_cast<uint64_t>(v->i64));
  return describe(std::string("expected an integer, found ") + gguf_type_name(v->type));
}

}  // namespace

Status gguf_check_model_caps(const GgufFile& file, std::string_view arch) {
  const std::string a(arch);
  R1_RETURN_IF_ERROR(check_cap(file, a + ".block_count", 1, 4096));
  R1_RETURN_IF_ERROR(check_cap(file, a + ".attention.head_count", 0, 4096));
  R1_RETURN_IF_ERROR(check_cap(file, a + ".attention.head_count_kv", 0, 4096));
  R1_RETURN_IF_ERROR(check_cap(file, a + ".context_length", 1, 10'000'000));
  R1_RETURN_IF_ERROR(check_cap(file, a + ".embedding_length", 1, 1'000'000));
  if (const GgufValue* tokens = file.find("tokenizer.ggml.tokens")) {
    if (tokens->type != GgufType::kArray) {
      return Status::invalid(file.path() + ": key 'tokenizer.ggml.tokens': expected an array");
    }
    if (tokens->count > 4'000'000) {
      return Status::invalid(file.path() +
                             ": key 'tokenizer.ggml.tokens': " + std::to_string(tokens->count) +
                             " tokens is outside the sane range 0..4000000");
    }
  }
  return Status::ok();
}

}  // namespace r1
