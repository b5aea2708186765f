// SPDX-License-Identifier: MIT
#pragma once

// Death tests: a behaviour that must end the process (abort, terminate) is
// run in a child process made with fork(), and the parent checks how the
// child ended and what it wrote to stderr. CTest cannot expect a test
// program to abort; a test that forks can.
//
//   const auto r = spindle::test::death::run_in_child([] { std::abort(); });
//   REQUIRE(r.killed_by(SIGABRT));
//
// Rules for callers:
//   - Call run_in_child from a thread of a process that runs no other
//     thread: fork() copies only the calling thread, so a lock another
//     thread held (malloc's, stdio's) would stay locked in the child for
//     ever. The child itself may start threads. (Every test in this
//     project joins its threads before it ends, so between tests the
//     process has one thread.)
//   - The body runs in the child: no Catch2 assertion there (it would
//     report into the child's copy of the test run, which nobody reads).
//     The body reports through its exit, its stderr, or check_in_child.
//   - The child ends with _exit(0) when the body returns, so neither the
//     child's copy of the test run, nor atexit handlers, nor
//     LeakSanitizer's exit-time check runs there.
//   - The wait is bounded: a child still running at `limit` is killed with
//     SIGKILL and the result says timed_out(), which the test then fails on.
//
// POSIX only. Where there is no fork(), SPINDLE_TEST_HAVE_FORK is 0 and
// nothing below is defined.

#if defined(__unix__) || defined(__APPLE__)
#define SPINDLE_TEST_HAVE_FORK 1
#else
#define SPINDLE_TEST_HAVE_FORK 0
#endif

#if SPINDLE_TEST_HAVE_FORK

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace spindle::test::death {

/// The exit code of a child whose body let an exception escape.
inline constexpr int body_threw_code = 121;
/// The exit code of a child in which a check_in_child failed.
inline constexpr int check_failed_code = 122;
/// The exit code of a child in which the helper itself failed to set up.
inline constexpr int setup_failed_code = 123;

/// The time a child gets when the caller names no limit: long enough for a
/// sanitized build on a loaded machine, well inside CTest's timeout.
inline constexpr std::chrono::milliseconds default_limit{20'000};

/// How a child process ended.
enum class Ending {
  exited,     // it called exit or _exit (or its body returned): code()
  signalled,  // a signal killed it: signal()
  timed_out,  // it ran past the limit and the helper killed it
  not_run,    // pipe(), fork() or waitpid() failed (see output)
};

/// How a child ended, and everything it wrote to stderr.
struct DeathResult {
  Ending ending = Ending::not_run;
  int status_value = 0;  // the exit code, or the signal number
  std::string output;    // the child's stderr (for not_run: what failed)
  std::chrono::milliseconds elapsed{0};

  [[nodiscard]] bool exited() const noexcept { return ending == Ending::exited; }
  [[nodiscard]] bool exited_with(int code) const noexcept { return exited() && status_value == code; }
  [[nodiscard]] bool signalled() const noexcept { return ending == Ending::signalled; }
  [[nodiscard]] bool killed_by(int sig) const noexcept { return signalled() && status_value == sig; }
  [[nodiscard]] bool timed_out() const noexcept { return ending == Ending::timed_out; }

  /// The exit code; meaningful only when exited().
  [[nodiscard]] int code() const noexcept { return exited() ? status_value : -1; }
  /// The signal; meaningful only when signalled().
  [[nodiscard]] int signal() const noexcept { return signalled() ? status_value : 0; }

  /// Whether the child's stderr contains `text`.
  [[nodiscard]] bool said(std::string_view text) const noexcept { return output.find(text) != std::string::npos; }

  /// Whether a sanitizer (ThreadSanitizer, AddressSanitizer, LeakSanitizer,
  /// UndefinedBehaviorSanitizer) reported something in the child: a child
  /// that ends as expected may still have done so on its way.
  [[nodiscard]] bool sanitizer_reported() const noexcept { return said("Sanitizer:") || said("runtime error:"); }

  /// "exited with code 0", "killed by signal 6 (SIGABRT)", ...
  [[nodiscard]] std::string describe() const {
    switch (ending) {
      case Ending::exited:
        return "exited with code " + std::to_string(status_value);
      case Ending::signalled: {
        std::string text = "killed by signal " + std::to_string(status_value);
        if (const char* name = signal_name(status_value)) {
          text += std::string(" (") + name + ")";
        }
        return text;
      }
      case Ending::timed_out:
        return "still running after " + std::to_string(elapsed.count()) + " ms: timed out, killed";
      case Ending::not_run:
        break;
    }
    return "not run: " + output;
  }

  friend std::ostream& operator<<(std::ostream& out, const DeathResult& r) {
    return out << "the child " << r.describe() << "; its stderr:\n" << r.output;
  }

 private:
  static const char* signal_name(int sig) noexcept {
    switch (sig) {
      case SIGABRT:
        return "SIGABRT";
      case SIGKILL:
        return "SIGKILL";
      case SIGSEGV:
        return "SIGSEGV";
      case SIGTERM:
        return "SIGTERM";
      case SIGILL:
        return "SIGILL";
      case SIGFPE:
        return "SIGFPE";
      case SIGBUS:
        return "SIGBUS";
      default:
        return nullptr;
    }
  }
};

namespace detail {

// The child reports its own failures with write(), not stdio: whatever the
// body left stdio in, the message gets out.
inline void write_all(int fd, std::string_view text) noexcept {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n > 0) {
      text.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;
    }
  }
}

[[noreturn]] inline void child_fail(int code, std::string_view what, std::string_view info = {}) noexcept {
  write_all(STDERR_FILENO, "death: ");
  write_all(STDERR_FILENO, what);
  if (!info.empty()) {
    write_all(STDERR_FILENO, ": ");
    write_all(STDERR_FILENO, info);
  }
  write_all(STDERR_FILENO, "\n");
  ::_exit(code);
}

// The child's side: stderr into the pipe, the fatal signals back to their
// default action, then the body.
[[noreturn]] inline void run_child(int read_fd, int write_fd, const std::function<void()>& body) noexcept {
  ::close(read_fd);
  if (::dup2(write_fd, STDERR_FILENO) < 0) {
    ::_exit(setup_failed_code);
  }
  ::close(write_fd);
  // Catch2 catches these to report a crash as a failed test. In the child
  // the signal must do what it does outside a test runner (end the
  // process, which the parent then sees), not report into the child's
  // copy of the test run. (So under ASan a SIGSEGV in the child is a plain
  // SIGSEGV, without ASan's report.)
  for (const int sig : {SIGABRT, SIGSEGV, SIGILL, SIGFPE, SIGTERM, SIGINT, SIGBUS}) {
    ::signal(sig, SIG_DFL);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  try {
    body();
  } catch (const std::exception& e) {
    child_fail(body_threw_code, "the body threw", e.what());
  } catch (...) {
    child_fail(body_threw_code, "the body threw", "(not a std::exception)");
  }
  // What the body wrote through stdio reaches its destination; the parent
  // flushed its own buffers before fork(), so nothing is written twice.
  std::fflush(nullptr);
  ::_exit(0);
}

// Reads what is ready on `fd` (non-blocking) into `out`; false at end of file.
inline bool drain(int fd, std::string& out) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0) {
      return false;
    } else if (errno == EINTR) {
      continue;
    } else {
      return true;  // EAGAIN: nothing more for now
    }
  }
}

inline DeathResult not_run(const char* what) {
  DeathResult r;
  r.ending = Ending::not_run;
  r.output = std::string(what) + ": " + std::strerror(errno);
  return r;
}

}  // namespace detail

/// In the child: unless `ok`, writes "death: check failed in the child:
/// <what>" to stderr and ends the child with check_failed_code.
inline void check_in_child(bool ok, std::string_view what) noexcept {
  if (!ok) {
    detail::child_fail(check_failed_code, "check failed in the child", what);
  }
}

/// Runs `body` in a child process and waits at most `limit` for it to end.
/// Returns how it ended (exited with a code, killed by a signal, or timed
/// out and then killed) and what it wrote to stderr. Never waits longer
/// than `limit` and a few milliseconds: a child that hangs is killed.
inline DeathResult run_in_child(const std::function<void()>& body, std::chrono::milliseconds limit = default_limit) {
  int fds[2] = {-1, -1};
  if (::pipe(fds) != 0) {
    return detail::not_run("pipe()");
  }
  // Whatever sits in this process's stdio buffers would otherwise be
  // written a second time by a child that flushes.
  std::fflush(nullptr);

  const auto start = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  if (child < 0) {
    DeathResult r = detail::not_run("fork()");
    ::close(fds[0]);
    ::close(fds[1]);
    return r;
  }
  if (child == 0) {
    detail::run_child(fds[0], fds[1], body);
  }

  ::close(fds[1]);
  int fd = fds[0];
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  DeathResult r;
  const auto deadline = start + limit;
  int status = 0;
  bool reaped = false;
  bool wait_failed = false;
  for (;;) {
    const pid_t w = ::waitpid(child, &status, WNOHANG);
    if (w == child) {
      reaped = true;
      break;
    }
    if (w < 0 && errno != EINTR) {
      // Not expected for our own child (unless someone set SIGCHLD to
      // SIG_IGN, which reaps children behind our back).
      wait_failed = true;
      break;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      break;
    }
    // Sleep until the child writes, closes its end, or 5 ms pass (to look
    // at waitpid again: the pipe may stay open in a grandchild).
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    const int wait_ms = static_cast<int>(left < 5 ? (left < 1 ? 1 : left) : 5);
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, wait_ms) > 0 && !detail::drain(fd, r.output)) {
        ::close(fd);  // end of file: from now on only waitpid matters
        fd = -1;
      }
    } else {
      ::poll(nullptr, 0, wait_ms);
    }
  }
  if (!reaped) {
    // Past the deadline (or waitpid failed): kill it, then reap it (a
    // SIGKILLed process ends at once, so this wait is short).
    ::kill(child, SIGKILL);
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
  }
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  if (fd >= 0) {
    detail::drain(fd, r.output);
    ::close(fd);
  }
  if (wait_failed) {
    r.ending = Ending::not_run;
    r.output = "waitpid() failed; the child's stderr:\n" + r.output;
  } else if (!reaped) {
    r.ending = Ending::timed_out;
  } else if (WIFEXITED(status)) {
    r.ending = Ending::exited;
    r.status_value = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.ending = Ending::signalled;
    r.status_value = WTERMSIG(status);
  }
  return r;
}

}  // namespace spindle::test::death

#endif  // SPINDLE_TEST_HAVE_FORK
