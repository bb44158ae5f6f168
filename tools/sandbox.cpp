#include "tools/sandbox.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/subprocess.h"

namespace r1 {

namespace {

constexpr const char* kBwrap = "/usr/bin/bwrap";

// Top-level directories the program may need, and the few /etc files the C library and common
// tools read. /bin, /lib* are symlinks into /usr on merged-/usr systems: recreated as symlinks.
const char* const kSystemDirs[] = {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
const char* const kEtcFiles[] = {"/etc/ld.so.cache",  "/etc/ld.so.conf",    "/etc/ld.so.conf.d",
                                 "/etc/alternatives", "/etc/localtime",     "/etc/passwd",
                                 "/etc/group",        "/etc/nsswitch.conf", "/etc/locale.alias"};

SandboxInfo probe() {
  SandboxInfo info;
  const char* off = std::getenv("R1_NO_SANDBOX");
  if (off != nullptr && std::string(off) == "1") {
    info.reason = "disabled by R1_NO_SANDBOX=1";
    return info;
  }
  if (::access(kBwrap, X_OK) != 0) {
    info.reason = std::string(kBwrap) + " is not installed";
    return info;
  }
  CaptureOptions options;
  options.env = {"PATH=/usr/bin:/bin"};
  options.timeout_s = 10;
  options.max_output_bytes = 4096;
  Result<CapturedProcess> r =
      run_process_captured(bwrap_argv({"/usr/bin/true"}, options.env, {}, ""), options);
  if (!r) {
    info.reason = r.status().message();
  } else if (r->exit_code != 0) {
    std::string err = r->err.substr(0, r->err.find('\n'));
    info.reason =
        "bwrap probe exited with " + std::to_string(r->exit_code) + (err.empty() ? "" : ": " + err);
  } else {
    info.available = true;
  }
  if (!info.available) {
    std::fprintf(stderr,
                 "r1: command tools run WITHOUT a sandbox (%s); argv-only, scrubbed environment, "
                 "timeout and output cap still apply\n",
                 info.reason.c_str());
  }
  return info;
}

}  // namespace

const SandboxInfo& sandbox_info() {
  static const SandboxInfo info = probe();  // thread-safe one-time init
  return info;
}

std::vector<std::string> bwrap_argv(const std::vector<std::string>& argv,
                                    const std::vector<std::string>& env,
                                    const std::vector<std::string>& read_only_dirs,
                                    const std::string& workdir) {
  std::vector<std::string> out = {kBwrap};
  for (const char* dir : kSystemDirs) {
    struct stat st;
    if (::lstat(dir, &st) != 0) continue;
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlink(dir, target, sizeof target - 1);
      if (n <= 0) continue;
      out.insert(out.end(), {"--symlink", std::string(target, static_cast<size_t>(n)), dir});
    } else if (S_ISDIR(st.st_mode)) {
      out.insert(out.end(), {"--ro-bind", dir, dir});
    }
  }
  for (const char* f : kEtcFiles) out.insert(out.end(), {"--ro-bind-try", f, f});
  out.insert(out.end(), {"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"});
  for (const std::string& d : read_only_dirs) out.insert(out.end(), {"--ro-bind", d, d});
  out.insert(out.end(), {"--unshare-all", "--die-with-parent", "--new-session", "--clearenv"});
  for (const std::string& e : env) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) continue;
    out.insert(out.end(), {"--setenv", e.substr(0, eq), e.substr(eq + 1)});
  }
  out.insert(out.end(), {"--chdir", workdir.empty() ? "/tmp" : workdir, "--"});
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

}  // namespace r1
