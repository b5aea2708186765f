// SPDX-License-Identifier: MIT
#pragma once

// The operating system's thread: start one with a stack size, join, detach,
// name the calling thread. POSIX threads where there are any (so the stack
// size is honoured), std::thread elsewhere (where it is not).

#include <cerrno>
#include <cstddef>
#include <string_view>
#include <system_error>
#include <utility>

#include "spindle/detail/config.hpp"

#if SPINDLE_HAS_PTHREAD
#include <limits.h>  // NOLINT(modernize-deprecated-headers): POSIX's PTHREAD_STACK_MIN is here, not in <climits>
#include <pthread.h>
#include <unistd.h>

#include <cstring>
#else
#include <thread>
#endif

namespace spindle::detail {

/// The entry point a native thread runs: `entry(arg)`.
// Not noexcept: a glibc forced unwind (pthread_exit, cancellation) must be
// able to pass through it.
using ThreadEntry = void (*)(void* arg);

class NativeThread {
 public:
  NativeThread() noexcept = default;
  NativeThread(NativeThread&& other) noexcept { swap(other); }
  NativeThread& operator=(NativeThread&& other) noexcept {
    // cppcheck-suppress accessMoved ; false positive (cppcheck 2.10): it reports the move itself
    NativeThread(std::move(other)).swap(*this);
    return *this;
  }
  NativeThread(const NativeThread&) = delete;
  NativeThread& operator=(const NativeThread&) = delete;
  /// A thread still attached is detached: a native thread never outlives its
  /// handle attached.
  ~NativeThread() { detach(); }

  /// Starts a thread running entry(arg). `stack_size` 0 means the system's
  /// default; a smaller size than the platform's minimum is raised to it.
  /// On failure returns the error and `out` stays empty.
  [[nodiscard]] static std::error_code start(NativeThread& out, ThreadEntry entry, void* arg,
                                             std::size_t stack_size) noexcept;

  [[nodiscard]] bool joinable() const noexcept { return attached_; }

  /// Waits for the thread to end. Precondition: joinable().
  [[nodiscard]] std::error_code join() noexcept;

  /// Lets the thread run on alone; it cleans up after itself when it ends.
  void detach() noexcept;

  void swap(NativeThread& other) noexcept {
    std::swap(handle_, other.handle_);
    std::swap(attached_, other.attached_);
  }

 private:
#if SPINDLE_HAS_PTHREAD
  pthread_t handle_{};
#else
  std::thread handle_;
#endif
  bool attached_ = false;
};

/// `name` cut to at most `limit` bytes without splitting a UTF-8 character.
[[nodiscard]] inline std::string_view truncate_utf8(std::string_view name, std::size_t limit) noexcept {
  if (name.size() <= limit) {
    return name;
  }
  std::size_t cut = limit;
  // Back off continuation bytes (10xxxxxx) to the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  return name.substr(0, cut);
}

#if SPINDLE_HAS_PTHREAD

namespace native {
struct Trampoline {
  ThreadEntry entry;
  void* arg;
};

// pthread_create's entry. The C++ entry catches every exception but glibc's
// forced unwind, which is meant to pass through to the thread's end.
extern "C" inline void* run_trampoline(void* raw) {
  const Trampoline t = *static_cast<Trampoline*>(raw);
  delete static_cast<Trampoline*>(raw);
  t.entry(t.arg);
  return nullptr;
}

// A stack size the platform accepts: at least its minimum, a whole number
// of pages.
inline std::size_t usable_stack_size(std::size_t requested) noexcept {
  std::size_t size =
      requested < static_cast<std::size_t>(PTHREAD_STACK_MIN) ? static_cast<std::size_t>(PTHREAD_STACK_MIN) : requested;
  const long page_or_error = ::sysconf(_SC_PAGESIZE);
  const std::size_t page = page_or_error > 0 ? static_cast<std::size_t>(page_or_error) : 4096;
  const std::size_t rem = size % page;
  if (rem != 0) {
    // Saturate rather than wrap: an absurd size must fail in pthread_create,
    // not turn into a tiny one.
    size = size > static_cast<std::size_t>(-1) - (page - rem) ? size - rem : size + (page - rem);
  }
  return size;
}
}  // namespace native

inline std::error_code NativeThread::start(NativeThread& out, ThreadEntry entry, void* arg,
                                           std::size_t stack_size) noexcept {
  pthread_attr_t attr;
  if (const int rc = ::pthread_attr_init(&attr); rc != 0) {
    return {rc, std::generic_category()};
  }
  struct AttrGuard {
    pthread_attr_t* attr;
    ~AttrGuard() { ::pthread_attr_destroy(attr); }
  } attr_guard{&attr};

  if (stack_size != 0) {
    if (const int rc = ::pthread_attr_setstacksize(&attr, native::usable_stack_size(stack_size)); rc != 0) {
      return {rc, std::generic_category()};
    }
  }
  auto* trampoline = new (std::nothrow) native::Trampoline{entry, arg};
  if (trampoline == nullptr) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
  pthread_t handle{};
  if (const int rc = ::pthread_create(&handle, &attr, &native::run_trampoline, trampoline); rc != 0) {
    delete trampoline;
    return {rc, std::generic_category()};
  }
  out = NativeThread();
  out.handle_ = handle;
  out.attached_ = true;
  return {};
}

inline std::error_code NativeThread::join() noexcept {
  if (!attached_) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  if (const int rc = ::pthread_join(handle_, nullptr); rc != 0) {
    return {rc, std::generic_category()};
  }
  attached_ = false;
  return {};
}

inline void NativeThread::detach() noexcept {
  if (attached_) {
    ::pthread_detach(handle_);
    attached_ = false;
  }
}

/// The longest name the OS keeps for a thread, in bytes (0: names unsupported).
#if defined(__linux__)
inline constexpr std::size_t os_thread_name_max = 15;
#elif defined(__APPLE__)
inline constexpr std::size_t os_thread_name_max = 63;
#else
inline constexpr std::size_t os_thread_name_max = 0;
#endif

/// Shows `name` (cut to the OS's limit) as the calling thread's name in
/// debuggers and `top -H`, where the platform allows.
inline void set_current_os_thread_name(std::string_view name) noexcept {
#if defined(__linux__) || defined(__APPLE__)
  char buf[os_thread_name_max + 1] = {};
  const std::string_view cut = truncate_utf8(name, os_thread_name_max);
  std::memcpy(buf, cut.data(), cut.size());
#if defined(__linux__)
  ::pthread_setname_np(::pthread_self(), buf);
#else
  ::pthread_setname_np(buf);
#endif
#else
  (void)name;
#endif
}

#else  // no POSIX threads: std::thread, without a stack size

inline std::error_code NativeThread::start(NativeThread& out, ThreadEntry entry, void* arg,
                                           std::size_t /*stack_size: not supported here*/) noexcept {
  try {
    out = NativeThread();
    out.handle_ = std::thread([entry, arg] { entry(arg); });
    out.attached_ = true;
    return {};
  } catch (const std::system_error& e) {
    return e.code();
  } catch (...) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

inline std::error_code NativeThread::join() noexcept {
  if (!attached_) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  try {
    handle_.join();
  } catch (const std::system_error& e) {
    return e.code();
  }
  attached_ = false;
  return {};
}

inline void NativeThread::detach() noexcept {
  if (attached_) {
    handle_.detach();
    attached_ = false;
  }
}

inline constexpr std::size_t os_thread_name_max = 0;
inline void set_current_os_thread_name(std::string_view /*name*/) noexcept {}

#endif

}  // namespace spindle::detail
