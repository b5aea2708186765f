// SPDX-License-Identifier: MIT
#pragma once

// How many threads this process can usefully run at once: the CPUs it may
// run on (its affinity mask), lowered by a cgroup v2 CPU quota, as Rust's
// std::thread::available_parallelism computes it on Linux.

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "spindle/detail/config.hpp"
#include "spindle/detail/this_thread.hpp"

#if defined(__linux__)
#include <sched.h>

#include <cerrno>
#include <cstdlib>
#endif

namespace spindle::detail {

#if defined(__linux__)

namespace cgroup {

// Plain C strings rather than std::string: this code is compiled in every
// file that includes <spindle/thread.hpp>, and runs once in a while.

// The longest cgroup path followed; a deeper one is not looked at.
inline constexpr std::size_t max_path = 4096;

// Reads the first line of the file at `path` into `line` (`size` bytes),
// without its newline. False if the file cannot be read.
inline bool read_first_line(const char* path, char* line, std::size_t size) noexcept {
  std::FILE* f = std::fopen(path, "re");
  if (f == nullptr) {
    return false;
  }
  const bool read = std::fgets(line, static_cast<int>(size), f) != nullptr;
  (void)std::fclose(f);  // only read from: nothing to flush, nothing to report
  if (read) {
    line[std::strcspn(line, "\r\n")] = '\0';
  }
  return read;
}

// The whole CPUs allowed by `cpu.max` ("<quota> <period>" or "max <period>")
// in the cgroup v2 directory `dir`; 0 when unlimited or unknown.
inline std::size_t quota_cpus(const char* dir) noexcept {
  char path[max_path + 32];
  char line[512];
  if (std::snprintf(path, sizeof path, "%s/cpu.max", dir) >= static_cast<int>(sizeof path) ||
      !read_first_line(path, line, sizeof line) || line[0] == '\0' || std::strncmp(line, "max", 3) == 0) {
    return 0;
  }
  char* end = nullptr;
  const unsigned long long quota = std::strtoull(line, &end, 10);
  const unsigned long long period = std::strtoull(end, nullptr, 10);
  if (quota == 0 || period == 0) {
    return 0;
  }
  const unsigned long long cpus = quota / period;
  return cpus == 0 ? 1 : static_cast<std::size_t>(cpus);
}

// The tightest cgroup v2 CPU quota on the path from this process's cgroup
// up to the root; 0 when none applies.
inline std::size_t quota_limit() noexcept {
  // cgroup v2 lists this process as "0::/some/path". The directory is
  // "/sys/fs/cgroup" followed by that path ("/" for the root itself).
  constexpr char root[] = "/sys/fs/cgroup";
  constexpr std::size_t root_length = sizeof root - 1;
  char dir[root_length + max_path + 2];
  std::FILE* f = std::fopen("/proc/self/cgroup", "re");
  if (f == nullptr) {
    return 0;
  }
  bool found = false;
  char line[root_length + max_path + 2];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "0::", 3) == 0) {
      line[std::strcspn(line, "\r\n")] = '\0';
      found = line[3] == '/' && std::snprintf(dir, sizeof dir, "%s%s", root, line[4] == '\0' ? "" : line + 3) <
                                    static_cast<int>(sizeof dir);
      break;
    }
  }
  (void)std::fclose(f);  // only read from: nothing to flush, nothing to report
  if (!found) {
    return 0;
  }
  std::size_t limit = 0;
  for (;;) {
    const std::size_t here = quota_cpus(dir);
    if (here != 0 && (limit == 0 || here < limit)) {
      limit = here;
    }
    if (std::strlen(dir) == root_length) {
      break;
    }
    // Up one level: cut the last "/component" (back to the root itself).
    char* const slash = std::strrchr(dir, '/');
    if (slash == nullptr) {
      break;
    }
    *slash = '\0';
  }
  return limit;
}

}  // namespace cgroup

// CPUs in this thread's affinity mask; 0 if it cannot be read.
inline std::size_t affinity_cpus() noexcept {
  // Start at the static set's size and grow for machines with more CPUs.
  for (int ncpus = CPU_SETSIZE; ncpus <= (1 << 20); ncpus *= 2) {
    const std::size_t bytes = CPU_ALLOC_SIZE(ncpus);
    cpu_set_t* const set = CPU_ALLOC(ncpus);
    if (set == nullptr) {
      return 0;
    }
    CPU_ZERO_S(bytes, set);
    const bool read = ::sched_getaffinity(0, bytes, set) == 0;
    const int error = errno;  // before CPU_FREE, which may change it
    const std::size_t count = read ? static_cast<std::size_t>(CPU_COUNT_S(bytes, set)) : 0;
    CPU_FREE(set);
    if (read) {
      return count;
    }
    if (error != EINVAL) {
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
    n = this_thread::hardware_concurrency();
  }
  if (n == 0) {
    return std::make_error_code(std::errc::function_not_supported);
  }
  out = n;
  return {};
}

}  // namespace spindle::detail
