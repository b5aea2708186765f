// SPDX-License-Identifier: MIT
#pragma once

// How many threads this process can usefully run at once: the CPUs it may
// run on (its affinity mask), lowered by a cgroup v2 CPU quota, as Rust's
// std::thread::available_parallelism computes it on Linux.

#include <cstddef>
#include <cstdio>
#include <string>
#include <system_error>
#include <thread>

#include "spindle/detail/config.hpp"

#if defined(__linux__)
#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#endif

namespace spindle::detail {

#if defined(__linux__)

namespace cgroup {

// The first line of a file, without its newline; empty if it cannot be read.
inline std::string read_first_line(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) {
    return {};
  }
  char buf[512];
  std::string line;
  if (std::fgets(buf, sizeof buf, f) != nullptr) {
    line = buf;
  }
  (void)std::fclose(f);  // only read from: nothing to flush, nothing to report
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) {
    line.pop_back();
  }
  return line;
}

// The whole CPUs allowed by `cpu.max` ("<quota> <period>" or "max <period>")
// in the cgroup v2 directory `dir`; 0 when unlimited or unknown.
inline std::size_t quota_cpus(const std::string& dir) {
  const std::string line = read_first_line(dir + "/cpu.max");
  if (line.empty() || line.rfind("max", 0) == 0) {
    return 0;
  }
  char* end = nullptr;
  const unsigned long long quota = std::strtoull(line.c_str(), &end, 10);
  const unsigned long long period = std::strtoull(end, nullptr, 10);
  if (quota == 0 || period == 0) {
    return 0;
  }
  const unsigned long long cpus = quota / period;
  return cpus == 0 ? 1 : static_cast<std::size_t>(cpus);
}

// The tightest cgroup v2 CPU quota on the path from this process's cgroup
// up to the root; 0 when none applies.
inline std::size_t quota_limit() {
  // cgroup v2 lists this process as "0::/some/path".
  std::FILE* f = std::fopen("/proc/self/cgroup", "re");
  if (f == nullptr) {
    return 0;
  }
  std::string path;
  char buf[1024];
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    const std::string line = buf;
    if (line.rfind("0::", 0) == 0) {
      path = line.substr(3);
      while (!path.empty() && (path.back() == '\n' || path.back() == '\r')) {
        path.pop_back();
      }
      break;
    }
  }
  (void)std::fclose(f);  // only read from: nothing to flush, nothing to report
  if (path.empty() || path[0] != '/') {
    return 0;
  }
  std::size_t limit = 0;
  for (;;) {
    const std::size_t here = quota_cpus("/sys/fs/cgroup" + (path == "/" ? std::string() : path));
    if (here != 0 && (limit == 0 || here < limit)) {
      limit = here;
    }
    if (path == "/") {
      break;
    }
    const std::size_t slash = path.find_last_of('/');
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return limit;
}

}  // namespace cgroup

// CPUs in this thread's affinity mask; 0 if it cannot be read.
inline std::size_t affinity_cpus() noexcept {
  // Start at the static set's size and grow for machines with more CPUs.
  for (int ncpus = CPU_SETSIZE; ncpus <= (1 << 20); ncpus *= 2) {
    const std::size_t bytes = CPU_ALLOC_SIZE(ncpus);
    std::unique_ptr<cpu_set_t, void (*)(cpu_set_t*)> set(CPU_ALLOC(ncpus), [](cpu_set_t* s) { CPU_FREE(s); });
    if (!set) {
      return 0;
    }
    CPU_ZERO_S(bytes, set.get());
    if (::sched_getaffinity(0, bytes, set.get()) == 0) {
      return static_cast<std::size_t>(CPU_COUNT_S(bytes, set.get()));
    }
    if (errno != EINVAL) {
      return 0;
    }
  }
  return 0;
}

#endif

/// The parallelism estimate, or the error that prevented one.
[[nodiscard]] inline std::error_code available_parallelism(std::size_t& out) {
  std::size_t n = 0;
#if defined(__linux__)
  n = affinity_cpus();
  if (n != 0) {
    if (const std::size_t quota = cgroup::quota_limit(); quota != 0 && quota < n) {
      n = quota;
    }
  }
#endif
  if (n == 0) {
    n = std::thread::hardware_concurrency();
  }
  if (n == 0) {
    return std::make_error_code(std::errc::function_not_supported);
  }
  out = n;
  return {};
}

}  // namespace spindle::detail
