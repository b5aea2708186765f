// SPDX-License-Identifier: MIT
#pragma once

/// \file
/// spindle::thread: Rust's std::thread for C++. spawn returns a JoinHandle
/// whose join() gives the thread's result or the exception that ended it;
/// Builder names a thread and sizes its stack; scope runs threads that may
/// borrow the caller's locals; park/unpark give every thread a wake-up token.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/detail/arc.hpp"
#include "spindle/detail/config.hpp"
#include "spindle/detail/invoke.hpp"
#include "spindle/detail/native_thread.hpp"
#include "spindle/detail/parallelism.hpp"
#include "spindle/detail/park.hpp"
#include "spindle/detail/parker.hpp"
#include "spindle/detail/sync/raw_mutex.hpp"
#include "spindle/detail/this_thread.hpp"
#include "spindle/detail/time.hpp"
#include "spindle/result.hpp"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace spindle::thread {

class Thread;
class Builder;
class Scope;
template <class T>
class JoinHandle;
template <class T>
class ScopedJoinHandle;

namespace detail {
struct ThreadIdAccess;
}  // namespace detail

/// A thread's identity, unique for the life of the process and never reused
/// (unlike std::thread::id). Comparable, hashable and printable.
///
/// As in Rust, the process's main thread is ThreadId(1) (on Linux, where
/// spindle can tell the main thread apart); every other thread gets the next
/// number, from 2 upwards, when it first needs an id: when spawned, or on
/// its first current() if spindle did not start it.
class ThreadId {
 public:
  /// The id as a number: 1 for the main thread, then 2, 3, ...
  [[nodiscard]] constexpr std::uint64_t as_u64() const noexcept { return value_; }

  friend constexpr bool operator==(ThreadId, ThreadId) noexcept = default;
  friend constexpr auto operator<=>(ThreadId, ThreadId) noexcept = default;
  friend std::ostream& operator<<(std::ostream& os, ThreadId id) { return os << "ThreadId(" << id.value_ << ')'; }

 private:
  friend struct detail::ThreadIdAccess;
  constexpr explicit ThreadId(std::uint64_t value) noexcept : value_(value) {}
  std::uint64_t value_;
};

namespace detail {

namespace sd = spindle::detail;

struct ThreadIdAccess {
  // The id of a thread other than the main thread: 2, 3, ...
  static ThreadId next() noexcept {
    static std::atomic<std::uint64_t> counter{2};
    // relaxed: ids only need to be distinct, and one atomic counter gives
    // that under any ordering.
    return ThreadId(counter.fetch_add(1, std::memory_order::relaxed));
  }
  // The main thread's id, 1: reserved for it, so that it needs no work at
  // start-up and costs nothing in a program that never asks. The main
  // thread asks once (its ThreadInner is then kept); should it ask again,
  // after its thread-local storage is gone, it gets a new number.
  static ThreadId main() noexcept {
    static std::atomic<bool> given{false};
    // relaxed: as in next().
    return given.exchange(true, std::memory_order::relaxed) ? next() : ThreadId(1);
  }
};

// What every handle to one thread shares: its id, name and park token.
struct ThreadInner : sd::Shared {
  ThreadInner() : id(ThreadIdAccess::next()) {}
  explicit ThreadInner(std::string thread_name)
      : id(ThreadIdAccess::next()), name(std::move(thread_name)), named(true) {}
  ThreadInner(ThreadId thread_id, std::string thread_name) : id(thread_id), name(std::move(thread_name)), named(true) {}

  const ThreadId id;
  // A name and whether there is one (rather than std::optional<std::string>,
  // whose copies trip g++ 12's -Wmaybe-uninitialized at -O2).
  const std::string name;
  const bool named = false;
  sd::Parker parker;
};

// This thread's ThreadInner: set by spindle at the start of the threads it
// spawns, made on first use in any other thread.
inline sd::Arc<ThreadInner>& current_slot() noexcept {
  thread_local sd::Arc<ThreadInner> slot;
  return slot;
}

// True in the process's first thread, which Rust names "main".
inline bool is_process_main_thread() noexcept {
#if defined(__linux__)
  return ::getpid() == static_cast<pid_t>(::syscall(SYS_gettid));
#else
  return false;
#endif
}

inline ThreadInner& current_inner() {
  sd::Arc<ThreadInner>& slot = current_slot();
  if (!slot) {
    slot = is_process_main_thread() ? sd::Arc<ThreadInner>::make(ThreadIdAccess::main(), "main")
                                    : sd::Arc<ThreadInner>::make();
  }
  return *slot;
}

// The part of a thread's outcome a Scope needs, whatever the result type.
struct PacketBase : sd::Shared {
  PacketBase() = default;
  PacketBase(const PacketBase&) = delete;
  PacketBase& operator=(const PacketBase&) = delete;
  virtual ~PacketBase() = default;

  // Destroys the result, so that no user destructor runs after the scope
  // that owned the thread has returned.
  virtual void discard() noexcept = 0;

  // Who takes the thread's outcome: a handle's join(), or the scope that
  // owned the thread, which destroys it. Whoever comes first; the other
  // leaves the result alone.
  enum class Taker : std::uint8_t { nobody, join, scope };

  // Makes `who` the taker; false if someone already took the outcome.
  [[nodiscard]] bool try_take(Taker who) noexcept {
    Taker expected = Taker::nobody;
    // relaxed: the taker only decides who touches the result. What the
    // taker then reads was published by the thread's end (to a joiner by
    // the native join, to the scope by release (S1)), and the packet's
    // destruction is ordered by its Arc.
    return taken_by.compare_exchange_strong(expected, who, std::memory_order::relaxed);
  }

  // Set by the thread before it reports itself finished: the exception that
  // ended it, if any.
  std::exception_ptr panic;
  // release (F1) in the thread when its result is stored; acquire in
  // is_finished().
  std::atomic<bool> finished{false};
  std::atomic<Taker> taken_by{Taker::nobody};
};

// Where a thread leaves its result for join(). Its own allocation, shared by
// the thread and its handle only: a result that holds the thread's own
// Thread then makes no reference cycle.
template <class T>
struct Packet final : PacketBase {
  void discard() noexcept override { result.reset(); }
  std::optional<Result<T, Panic>> result;
};

// The bookkeeping of one scope() call. A template only so that its member
// functions are compiled where scope() is used, not in every file that
// includes this header.
template <class Unused = void>
struct ScopeDataOf {
  // Scoped threads started and not yet finished.
  sd::park::Word running{0};
  sd::sync::RawMutex mutex;
  // Every scoped thread's packet, in spawn order, to find the results and
  // panics nobody joined. Only appended to while the scope lives.
  std::vector<sd::Arc<PacketBase>> packets SPINDLE_GUARDED_BY(mutex);

  // Before the thread starts: count it and keep its packet (so a failure
  // here is an exception before any thread exists).
  void thread_starting(sd::Arc<PacketBase> packet) {
    {
      const sd::sync::RawMutexLock lock(mutex);
      packets.push_back(std::move(packet));
    }
    // relaxed: only the count matters. A thread that spawns is itself
    // counted, or is the scope's owner outside its waits, so the total
    // cannot reach zero before this increment is in.
    running.fetch_add(1, std::memory_order::relaxed);
  }

  // The thread did not start after all. Its packet stays: it holds no
  // result and no panic, so the scope passes over it.
  void thread_not_started() noexcept { thread_finished(); }

  // Called by each scoped thread as its very last touch of the scope (and
  // by spawn when a start fails): after it the scope may be gone, and only
  // the word's address is used, which a futex tolerates.
  void thread_finished() noexcept {
    // release (S1): publishes everything the thread did, its result and
    // panic; pairs with acquire (S2) in wait_all. The decrements form one
    // release sequence, so the owner that reads 0 sees every thread's work.
    if (running.fetch_sub(1, std::memory_order::release) == 1) {
      sd::park::wake_all(running);
    }
  }

  void wait_all() noexcept {
    for (;;) {
      // acquire (S2): pairs with release (S1).
      const std::uint32_t n = running.load(std::memory_order::acquire);
      if (n == 0) {
        return;
      }
      sd::park::wait(running, n, sd::forever);
    }
  }

  // How many packets there are now.
  std::size_t packet_count() {
    const sd::sync::RawMutexLock lock(mutex);
    return packets.size();
  }

  sd::Arc<PacketBase> packet_at(std::size_t index) {
    const sd::sync::RawMutexLock lock(mutex);
    return packets[index];
  }

  // Called by the scope's owner once its function has returned or thrown:
  // waits for every scoped thread, then destroys each result nobody joined.
  // Such a destructor may spawn more threads on the scope, so the owner
  // waits again, and destroys their unjoined results, until a wait finds no
  // thread it has not seen (as Rust counts a thread running until its
  // result is dropped). Returns the panics nobody joined, in spawn order;
  // the scope holds no packet afterwards.
  std::vector<Panic> join_all() {
    std::size_t seen = 0;
    for (;;) {
      wait_all();
      // Every packet up to `end` belongs to a thread that has finished: a
      // thread is counted before its spawner (counted itself, or this
      // owner) goes on, and the count was 0.
      const std::size_t end = packet_count();
      if (end == seen) {
        break;
      }
      for (; seen < end; ++seen) {
        // Outside the lock: the destructor may spawn on this scope.
        if (const sd::Arc<PacketBase> packet = packet_at(seen); packet->try_take(PacketBase::Taker::scope)) {
          packet->discard();
        }
      }
    }
    std::vector<sd::Arc<PacketBase>> all;
    {
      const sd::sync::RawMutexLock lock(mutex);
      all.swap(packets);
    }
    std::vector<Panic> out;
    for (const auto& packet : all) {
      // relaxed: this thread made the scope the taker itself, and a taker,
      // once set, never changes.
      if (packet->taken_by.load(std::memory_order::relaxed) == PacketBase::Taker::scope && packet->panic) {
        out.emplace_back(packet->panic);
        packet->panic = nullptr;
      }
    }
    return out;
  }
};

using ScopeData = ScopeDataOf<>;

// What a new thread needs to start: its Thread's shared part, its result
// packet, its callable, its scope. Owned by the new thread once it runs.
template <class R, class Fn>
struct Start {
  sd::Arc<ThreadInner> inner;
  sd::Arc<Packet<R>> packet;
  Fn body;
  ScopeData* scope;

  static void entry(void* arg) {
    // pthread_create (or std::thread) orders the spawner's writes before
    // this point.
    sd::Box<Start> start(static_cast<Start*>(arg));
    current_slot() = start->inner;
    if (start->inner->named) {
      sd::set_current_os_thread_name(start->inner->name);
    }
    sd::Arc<Packet<R>> packet = std::move(start->packet);
    ScopeData* const scope = start->scope;
    run(start, packet, scope);
    // release (F1): publishes the result; pairs with acquire in is_finished().
    packet->finished.store(true, std::memory_order::release);
    packet.reset();
    if (scope != nullptr) {
      scope->thread_finished();
    }
  }

  // Runs the body and stores its outcome in the packet: the value, or the
  // exception that escaped the body or the value's move into the packet.
  // Then destroys the callable and what it captured, as Rust drops a
  // thread's closure when it returns: whoever sees the thread finished also
  // sees its captures gone (a captured channel sender disconnected).
  static void run(sd::Box<Start>& start, sd::Arc<Packet<R>>& packet, [[maybe_unused]] ScopeData* scope) {
    try {
      if constexpr (std::is_void_v<R>) {
        spindle::detail::invoke(std::move(start->body));
        packet->result.emplace(in_place_ok);
      } else {
        // The value's one move on this thread, straight into the packet.
        packet->result.emplace(in_place_ok, spindle::detail::invoke(std::move(start->body)));
      }
    } catch (...) {
      std::exception_ptr caught = std::current_exception();
#if defined(__GLIBC__)
      if (!caught) {
        // glibc's forced unwind (pthread_exit, cancellation) is no C++
        // exception: report it, then let the unwind go on to the thread's end.
        start.reset();
        finish_forced(packet, scope);
        throw;
      }
#endif
      // Empty already, unless the returned temporary's destructor threw
      // after the value was stored: the exception wins.
      packet->result.reset();
      packet->panic = caught;
      packet->result.emplace(in_place_err, std::move(caught));
    }
    start.reset();
  }

#if defined(__GLIBC__)
  static void finish_forced(sd::Arc<Packet<R>>& packet, ScopeData* scope) noexcept {
    packet->panic =
        std::make_exception_ptr(std::runtime_error("spindle::thread: the thread was cancelled or called pthread_exit"));
    packet->result.emplace(in_place_err, packet->panic);
    packet->finished.store(true, std::memory_order::release);  // as (F1)
    packet.reset();
    if (scope != nullptr) {
      scope->thread_finished();
    }
  }
#endif
};

// What JoinHandle and ScopedJoinHandle share.
template <class T>
class HandleBase;

}  // namespace detail

/// A handle to a thread: its id, its name, and a way to unpark it. Cheap to
/// copy; every copy refers to the same thread.
class Thread {
 public:
  /// The thread's unique id.
  [[nodiscard]] ThreadId id() const noexcept { return inner_->id; }

  /// The name given through Builder::name ("main" for the process's first
  /// thread), or nothing for an unnamed thread.
  [[nodiscard]] std::optional<std::string_view> name() const noexcept {
    if (inner_->named) {
      return std::string_view(inner_->name);
    }
    return std::nullopt;
  }

  /// Makes the thread's park token available: its current or next park()
  /// returns. Tokens do not accumulate: two unparks before a park release
  /// one park. Everything this thread did before unpark() is visible to the
  /// parked thread after its park() returns.
  void unpark() const noexcept { inner_->parker.unpark(); }

  /// Two handles to the same thread are equal.
  friend bool operator==(const Thread& a, const Thread& b) noexcept { return a.inner_->id == b.inner_->id; }

 private:
  friend Thread current();
  template <class T>
  friend class detail::HandleBase;
  explicit Thread(spindle::detail::Arc<detail::ThreadInner> inner) noexcept : inner_(std::move(inner)) {}
  spindle::detail::Arc<detail::ThreadInner> inner_;

 public:
  // Copies only: a "moved" Thread is a copy, so no Thread is ever empty.
  Thread(const Thread&) noexcept = default;
  Thread& operator=(const Thread&) noexcept = default;
  ~Thread() = default;
};

/// The calling thread.
[[nodiscard]] inline Thread current() {
  detail::current_inner();
  return Thread(detail::current_slot());
}

/// Blocks until this thread's park token is available, then consumes it (see
/// Thread::unpark). An unpark that came first is not lost: park() then
/// returns at once. Never returns without an unpark.
inline void park() { detail::current_inner().parker.park(); }

/// As park(), but returns once `timeout` has passed, token or not. Any
/// timeout works, duration::max() included (it waits forever).
template <class Rep, class Period>
void park_timeout(std::chrono::duration<Rep, Period> timeout) {
  detail::current_inner().parker.park_until(spindle::detail::deadline_after(timeout));
}

/// Puts this thread to sleep for at least `duration` (no time at all for
/// zero or negative). Any duration works, duration::max() included.
template <class Rep, class Period>
void sleep(std::chrono::duration<Rep, Period> duration) {
  spindle::detail::this_thread::sleep_until(spindle::detail::deadline_after(duration));
}

/// Offers the rest of this thread's time slice to other threads.
inline void yield_now() noexcept { spindle::detail::this_thread::yield(); }

/// How many threads this process can run in parallel: the CPUs it may use
/// (its affinity mask), lowered to a cgroup v2 CPU quota on Linux. Not
/// cached: it follows changes to either. An error when nothing can be known.
[[nodiscard]] inline Result<std::size_t, std::system_error> available_parallelism() {
  std::size_t n = 0;
  if (const std::error_code ec = spindle::detail::available_parallelism(n)) {
    return Err(std::system_error(ec, "spindle::thread::available_parallelism"));
  }
  return Ok(n);
}

namespace detail {

template <class T>
class HandleBase {
 public:
  HandleBase(HandleBase&& other) noexcept
      : thread_(std::move(other.thread_.inner_)),
        packet_(std::move(other.packet_)),
        native_(std::move(other.native_)) {}
  /// Assigning over a handle detaches the thread it held, if not joined.
  HandleBase& operator=(HandleBase&& other) noexcept {
    HandleBase old(std::move(*this));
    thread_.inner_ = std::move(other.thread_.inner_);
    packet_ = std::move(other.packet_);
    native_ = std::move(other.native_);
    return *this;
  }
  HandleBase(const HandleBase&) = delete;
  HandleBase& operator=(const HandleBase&) = delete;
  ~HandleBase() = default;

  /// Waits for the thread to end and returns what its function returned,
  /// or the Panic holding the exception that escaped it. A result whose
  /// move constructor throws on its way to the caller (into the handle's
  /// slot on the thread, or out of it here) gives that exception as the
  /// Panic. Everything the thread did is visible to the caller once join()
  /// returns.
  ///
  /// Joining twice, or a moved-from handle, is a programming error and
  /// throws std::logic_error; a thread joining itself throws
  /// std::system_error (resource_deadlock_would_occur).
  Result<T, Panic> join() {
    if (!packet_ || !native_.joinable()) {
      throw std::logic_error("spindle::thread: join() on a handle that was already joined or moved from");
    }
    // Checked here rather than left to the OS: not every platform (nor
    // every sanitizer runtime) survives a thread joining itself.
    if (current_slot().get() == thread_.inner_.get()) {
      throw std::system_error(std::make_error_code(std::errc::resource_deadlock_would_occur),
                              "spindle::thread: a thread cannot join itself");
    }
    if (const std::error_code ec = native_.join()) {
      throw std::system_error(ec, "spindle::thread: join() failed");
    }
    const spindle::detail::Arc<Packet<T>> packet = std::move(packet_);
    if (!packet->try_take(PacketBase::Taker::join)) {
      throw std::logic_error("spindle::thread: join() on a scoped handle after its scope ended");
    }
    try {
      return std::move(*packet->result);
    } catch (...) {
      // The value's move out of the packet threw: the caller gets that
      // exception as the thread's panic, as for a move on the thread.
      return Result<T, Panic>(in_place_err, std::current_exception());
    }
  }

  /// True once the thread's function has returned or thrown (join() will
  /// then not block for long). Also true after join().
  [[nodiscard]] bool is_finished() const noexcept {
    // acquire: pairs with release (F1) in the thread.
    return !packet_ || packet_->finished.load(std::memory_order::acquire);
  }

  /// The thread this handle is for.
  [[nodiscard]] const Thread& thread() const {
    if (!thread_.inner_) {
      throw std::logic_error("spindle::thread: thread() on a moved-from handle");
    }
    return thread_;
  }

 protected:
  HandleBase(spindle::detail::Arc<ThreadInner> inner, spindle::detail::Arc<Packet<T>> packet,
             spindle::detail::NativeThread native) noexcept
      : thread_(std::move(inner)), packet_(std::move(packet)), native_(std::move(native)) {}

 private:
  Thread thread_;
  spindle::detail::Arc<Packet<T>> packet_;
  spindle::detail::NativeThread native_;
};

}  // namespace detail

/// Owns the right to join a spawned thread. Move-only. Destroying a handle
/// that was not joined detaches the thread, which runs on to its end, as in
/// Rust.
template <class T>
class JoinHandle : public detail::HandleBase<T> {
  friend class Builder;
  using detail::HandleBase<T>::HandleBase;
};

/// The handle of a thread spawned in a scope. As JoinHandle; a thread not
/// joined through its handle is joined when the scope ends.
template <class T>
class ScopedJoinHandle : public detail::HandleBase<T> {
  friend class Builder;
  using detail::HandleBase<T>::HandleBase;
};

/// Thrown by scope() after every scoped thread ended, when at least one of
/// them ended with an exception and its handle was never joined.
class ScopePanic : public std::runtime_error {
 public:
  explicit ScopePanic(std::vector<Panic> panics) : std::runtime_error(describe(panics)), panics_(std::move(panics)) {}

  /// Every unjoined scoped thread's panic, in the order they were spawned.
  [[nodiscard]] const std::vector<Panic>& panics() const noexcept { return panics_; }

 private:
  static std::string describe(const std::vector<Panic>& panics) {
    if (panics.size() == 1) {
      return std::string("a scoped thread panicked: ") + panics.front().what();
    }
    return std::to_string(panics.size()) + " scoped threads panicked; the first: " + panics.front().what();
  }
  std::vector<Panic> panics_;
};

/// Configures a thread before spawning it: its name and stack size.
///
///     auto handle = spindle::thread::Builder().name("worker").stack_size(1 << 20)
///                       .spawn([] { return 17; }).unwrap();
class Builder {
 public:
  Builder() = default;

  /// Names the thread. The whole name is what Thread::name() returns; the
  /// OS sees it cut to its limit (15 bytes on Linux, at a UTF-8 character
  /// boundary). A name with a NUL byte makes spawn fail.
  Builder& name(std::string thread_name) & {
    name_ = std::move(thread_name);
    named_ = true;
    return *this;
  }
  Builder name(std::string thread_name) && { return std::move(name(std::move(thread_name))); }

  /// The new thread's stack size in bytes (0: the system default). Raised
  /// to the platform's minimum and rounded up to whole pages where needed.
  Builder& stack_size(std::size_t bytes) & {
    stack_size_ = bytes;
    return *this;
  }
  Builder stack_size(std::size_t bytes) && { return std::move(stack_size(bytes)); }

  /// Starts a thread running f(args...) on decayed copies of f and args
  /// (move-only ones are moved in). Returns its handle, or the error that
  /// kept the OS from starting it (or EINVAL for a name holding a NUL).
  template <class F, class... Args>
  [[nodiscard]] auto spawn(F&& f, Args&&... args) const
      -> Result<JoinHandle<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>, std::system_error> {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
    return launch<JoinHandle<R>>(nullptr, std::forward<F>(f), std::forward<Args>(args)...);
  }

  /// As spawn(), for a thread of `scope`: it may borrow what outlives the
  /// scope() call, and is joined before scope() returns.
  template <class F, class... Args>
  [[nodiscard]] auto spawn_scoped(Scope& scope, F&& f, Args&&... args) const
      -> Result<ScopedJoinHandle<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>, std::system_error>;

 private:
  template <class Handle, class F, class... Args>
  Result<Handle, std::system_error> launch(detail::ScopeData* scope, F&& f, Args&&... args) const {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
    static_assert(!std::is_reference_v<R>,
                  "spindle::thread: the thread's function returns a reference; return a value or a "
                  "std::reference_wrapper instead");

    if (named_ && name_.find('\0') != std::string::npos) {
      return Err(std::system_error(std::make_error_code(std::errc::invalid_argument),
                                   "spindle::thread::Builder: a thread name must not contain a NUL byte"));
    }
    auto body = [f = std::forward<F>(f), ... args = std::forward<Args>(args)]() mutable -> R {
      return spindle::detail::invoke(std::move(f), std::move(args)...);
    };
    using Start = detail::Start<R, decltype(body)>;
    using spindle::detail::Arc;
    auto inner = named_ ? Arc<detail::ThreadInner>::make(name_) : Arc<detail::ThreadInner>::make();
    auto packet = Arc<detail::Packet<R>>::make();
    spindle::detail::Box<Start> start(new Start{inner, packet, std::move(body), scope});
    if (scope != nullptr) {
      scope->thread_starting(packet);
    }
    spindle::detail::NativeThread native;
    if (const std::error_code ec =
            spindle::detail::NativeThread::start(native, &Start::entry, start.get(), stack_size_)) {
      if (scope != nullptr) {
        scope->thread_not_started();
      }
      return Err(std::system_error(ec, "spindle::thread::Builder: cannot start a thread"));
    }
    (void)start.release();  // the thread owns it now
    return Ok(Handle(std::move(inner), std::move(packet), std::move(native)));
  }

  std::string name_;
  bool named_ = false;
  std::size_t stack_size_ = 0;
};

/// Starts a thread running f(args...) and returns its handle; as
/// Builder().spawn(...) but throws std::system_error when the OS cannot
/// start a thread.
template <class F, class... Args>
[[nodiscard]] auto spawn(F&& f, Args&&... args) {
  auto started = Builder().spawn(std::forward<F>(f), std::forward<Args>(args)...);
  if (started.is_err()) {
    throw std::move(started).unwrap_err();
  }
  return std::move(started).unwrap();
}

/// Spawns threads that may borrow from the caller; see scope().
class Scope {
 public:
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  Scope(Scope&&) = delete;
  Scope& operator=(Scope&&) = delete;
  ~Scope() = default;

  /// Starts a scoped thread running f(args...); throws std::system_error
  /// when the OS cannot start it. Use Builder::spawn_scoped for a name, a
  /// stack size, or an error value instead of the exception.
  template <class F, class... Args>
  [[nodiscard]] auto spawn(F&& f, Args&&... args) {
    auto started = Builder().spawn_scoped(*this, std::forward<F>(f), std::forward<Args>(args)...);
    if (started.is_err()) {
      throw std::move(started).unwrap_err();
    }
    return std::move(started).unwrap();
  }

 private:
  Scope() = default;
  friend class Builder;
  template <class F>
  friend auto scope(F&& f) -> std::invoke_result_t<F&&, Scope&>;

  detail::ScopeData data_;
};

template <class F, class... Args>
auto Builder::spawn_scoped(Scope& scope, F&& f, Args&&... args) const
    -> Result<ScopedJoinHandle<std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>>, std::system_error> {
  using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<Args>...>;
  return launch<ScopedJoinHandle<R>>(&scope.data_, std::forward<F>(f), std::forward<Args>(args)...);
}

/// Calls f(scope) and returns what f returns, after every thread spawned
/// through the scope has ended, so those threads may borrow locals that
/// outlive this call. Everything the scoped threads did is visible once
/// scope() returns. The results nobody joined are destroyed before it
/// returns; a thread such a destructor spawns on the scope is waited for
/// too.
///
/// If f throws, scope() still waits for every scoped thread, then rethrows
/// f's exception. Otherwise, if a scoped thread ended with an exception and
/// nobody joined its handle, scope() throws ScopePanic after waiting for all.
template <class F>
auto scope(F&& f) -> std::invoke_result_t<F&&, Scope&> {
  using R = std::invoke_result_t<F&&, Scope&>;
  Scope s;
  // What f returned (a pointer for a reference), kept while we wait.
  using Kept = std::conditional_t<std::is_reference_v<R>, std::remove_reference_t<R>*, R>;
  std::optional<std::conditional_t<std::is_void_v<R>, bool, Kept>> kept;
  try {
    if constexpr (std::is_void_v<R>) {
      spindle::detail::invoke(std::forward<F>(f), s);
      kept.emplace(true);
    } else if constexpr (std::is_reference_v<R>) {
      kept.emplace(spindle::detail::addressof(spindle::detail::invoke(std::forward<F>(f), s)));
    } else {
      kept.emplace(spindle::detail::invoke(std::forward<F>(f), s));
    }
  } catch (...) {
    (void)s.data_.join_all();
    throw;
  }
  if (std::vector<Panic> panics = s.data_.join_all(); !panics.empty()) {
    throw ScopePanic(std::move(panics));
  }
  if constexpr (std::is_void_v<R>) {
    return;
  } else if constexpr (std::is_reference_v<R>) {
    return static_cast<R>(**kept);
  } else {
    return std::move(*kept);
  }
}

}  // namespace spindle::thread

template <>
struct std::hash<spindle::thread::ThreadId> {
  std::size_t operator()(spindle::thread::ThreadId id) const noexcept {
    return std::hash<std::uint64_t>{}(id.as_u64());
  }
};
