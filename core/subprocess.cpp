#include "core/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace r1 {

Result<int> run_process(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status::invalid("run_process: empty command");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) return Status::io_error("cannot start '" + argv[0] + "': " + std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return Status::io_error("waiting for '" + argv[0] + "': " + std::strerror(errno));
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace r1

// ---- run_process_captured ---------------------------------------------------------------------

namespace r1 {

namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
};

}  // namespace

Result<CapturedProcess> run_process_captured(const std::vector<std::string>& argv,
                                             const CaptureOptions& options) {
  if (argv.empty()) return Status::invalid("run_process_captured: empty command");
  Pipe out_pipe, err_pipe;
  if (::pipe2(out_pipe.fd, O_CLOEXEC) != 0 || ::pipe2(err_pipe.fd, O_CLOEXEC) != 0) {
    return Status::io_error(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe.fd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe.fd[1], 2);
  if (!options.workdir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.workdir.c_str());
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // A process group of its own, so a timeout can kill the program and all its children; default
  // signal dispositions and an empty mask, whatever ours are.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(),
                       options.inherit_env ? environ : envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::io_error("cannot start '" + argv[0] + "': " + std::strerror(rc));
  ::close(out_pipe.fd[1]);
  out_pipe.fd[1] = -1;
  ::close(err_pipe.fd[1]);
  err_pipe.fd[1] = -1;

  CapturedProcess result;
  auto started = std::chrono::steady_clock::now();
  bool killed = false;
  std::chrono::steady_clock::time_point killed_at;
  auto kill_group = [&] {
    if (!killed) {
      ::kill(-pid, SIGKILL);
      killed = true;
      killed_at = std::chrono::steady_clock::now();
    }
  };
  std::string* sinks[2] = {&result.out, &result.err};
  int fds[2] = {out_pipe.fd[0], err_pipe.fd[0]};
  char buf[16384];
  // Read both streams until they close (EOF on both), killing on timeout/cancel. A grandchild
  // that keeps a pipe open is in the same group, so the kill closes it too.
  while (fds[0] >= 0 || fds[1] >= 0) {
    if (options.cancelled != nullptr && options.cancelled->load()) {
      result.cancelled = true;
      kill_group();
    }
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (options.timeout_s > 0 && elapsed >= options.timeout_s && !killed) {
      result.timed_out = true;
      kill_group();
    }
    // A descendant that left the group (setsid) may hold the pipes open: stop reading soon
    // after the kill rather than wait for it.
    if (killed && std::chrono::steady_clock::now() - killed_at > std::chrono::milliseconds(500)) {
      break;
    }
    struct pollfd pfd[2];
    int n = 0;
    int which[2];
    for (int i = 0; i < 2; ++i) {
      if (fds[i] >= 0) {
        pfd[n] = {fds[i], POLLIN, 0};
        which[n++] = i;
      }
    }
    int ready = ::poll(pfd, static_cast<nfds_t>(n), 20);  // ms: the cancel/timeout granularity
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int k = 0; k < n; ++k) {
      if ((pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      int i = which[k];
      ssize_t got = ::read(fds[i], buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fds[i] = -1;  // closed by Pipe's destructor
        continue;
      }
      int64_t room = options.max_output_bytes - static_cast<int64_t>(sinks[i]->size());
      int64_t keep = std::max<int64_t>(0, std::min<int64_t>(room, got));
      sinks[i]->append(buf, static_cast<size_t>(keep));
      result.dropped_bytes += got - keep;
    }
  }
  // Wait for the exit without reaping (WNOWAIT): while the leader is a zombie its pid, and so
  // the group id, cannot be reused, so the group kill below cannot hit a stranger.
  while (true) {
    siginfo_t info;
    info.si_pid = 0;
    int w = ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT);
    if (w == 0 && info.si_pid == pid) break;
    if (w < 0 && errno != EINTR) break;
    // Pipes closed but the child lives on (it closed its stdout/stderr): keep enforcing limits.
    if (options.cancelled != nullptr && options.cancelled->load()) {
      result.cancelled = true;
      kill_group();
    }
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (options.timeout_s > 0 && elapsed >= options.timeout_s && !killed) {
      result.timed_out = true;
      kill_group();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Children the program left behind in its group are not ours to wait for; kill them so none
  // outlives the call.
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  return result;
}

}  // namespace r1
