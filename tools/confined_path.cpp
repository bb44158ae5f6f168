#include "tools/confined_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

namespace r1 {

Result<std::string> normalize_relative_path(const std::string& path) {
  if (!path.empty() && path[0] == '/') {
    return Status::invalid("absolute path \"" + path +
                           "\" refused: give a path relative to the root");
  }
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string part = path.substr(i, j - i);
    if (part == "..") {
      if (parts.empty()) {
        return Status::invalid("path \"" + path + "\" escapes the root (\"..\" climbs above it)");
      }
      parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "/") + p;
  return out.empty() ? std::string(".") : out;
}

Result<ConfinedRoot> ConfinedRoot::open(const std::string& root) {
  int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return Status::not_found("root directory \"" + root + "\" does not exist");
    return Status::invalid("cannot open root directory \"" + root + "\": " + std::strerror(err));
  }
  return ConfinedRoot(fd, root);
}

ConfinedRoot::ConfinedRoot(ConfinedRoot&& other) noexcept
    : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

ConfinedRoot& ConfinedRoot::operator=(ConfinedRoot&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

ConfinedRoot::~ConfinedRoot() {
  if (fd_ >= 0) ::close(fd_);
}

namespace {

Status open_error(int err, const std::string& relative) {
  switch (err) {
    case EXDEV:  // RESOLVE_BENEATH: a ".." or a symlink would leave the root
    case ELOOP:  // O_NOFOLLOW met a symlink, or a magic link
      return Status::invalid("path \"" + relative +
                             "\" escapes the root (through \"..\" or a symbolic link)");
    case ENOENT:
      return Status::not_found("\"" + relative + "\" does not exist");
    case ENOTDIR:
      return Status::invalid("\"" + relative + "\": a component is not a directory");
    case EACCES:
    case EPERM:
      return Status::invalid("\"" + relative + "\": permission denied");
    default:
      return Status::io_error("cannot open \"" + relative + "\": " + std::strerror(err));
  }
}

}  // namespace

Result<int> ConfinedRoot::open_beneath(const std::string& relative, int flags) const {
  if (fd_ < 0) return Status::internal("ConfinedRoot used after move");
  // Lexical checks first: clearer messages, and the fallback below relies on them.
  Result<std::string> norm = normalize_relative_path(relative);
  if (!norm) return norm.status();
  flags |= O_CLOEXEC;
  flags &= ~(O_CREAT | O_TMPFILE);  // never create anything

  static std::atomic<bool> have_openat2{true};
  if (have_openat2.load(std::memory_order_relaxed)) {
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = static_cast<uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    // The original text, not the normalised one: "a/../b" must not skip a symlinked "a".
    long fd = syscall(SYS_openat2, fd_, relative.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    int err = errno;
    if (err != ENOSYS && err != EPERM) return open_error(err, relative);
    if (err == EPERM) {
      // seccomp filters (some container runtimes) answer EPERM for unknown syscalls; only
      // treat it as "no openat2" when a plain probe also fails that way.
      struct open_how probe;
      std::memset(&probe, 0, sizeof probe);
      probe.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
      long pfd = syscall(SYS_openat2, fd_, ".", &probe, sizeof probe);
      if (pfd >= 0) {
        ::close(static_cast<int>(pfd));
        return open_error(err, relative);
      }
    }
    have_openat2.store(false);
  }

  // Fallback: walk the normalised path one component at a time, refusing every symlink.
  const std::string& path = norm.value();
  int dir = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return open_error(errno, relative);
  size_t i = 0;
  while (true) {
    size_t j = path.find('/', i);
    bool last = j == std::string::npos;
    std::string part = path.substr(i, last ? std::string::npos : j - i);
    int next =
        ::openat(dir, part.c_str(),
                 last ? (flags | O_NOFOLLOW) : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    int err = errno;
    ::close(dir);
    if (next < 0) {
      // O_NOFOLLOW on a symlink gives ELOOP; with O_DIRECTORY some kernels say ENOTDIR.
      struct stat st;
      if (err == ENOTDIR &&
          ::fstatat(fd_, path.substr(0, last ? path.size() : j).c_str(), &st,
                    AT_SYMLINK_NOFOLLOW) == 0 &&
          S_ISLNK(st.st_mode)) {
        err = ELOOP;
      }
      return open_error(err, relative);
    }
    if (last) return next;
    dir = next;
    i = j + 1;
  }
}

}  // namespace r1
