// SPDX-License-Identifier: MIT
// spawn, JoinHandle and join: typed results, panics, detaching, lifetimes.

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <pthread.h>
#endif

#include "support/bounded.hpp"
#include "support/catch.hpp"

#include <spindle/thread.hpp>

namespace th = spindle::thread;
using spindle::test::eventually;
using spindle::test::Watchdog;

TEST_CASE("join returns what the thread's function returned", "[thread][spawn]") {
  auto handle = th::spawn([] { return 17; });
  auto result = handle.join();
  REQUIRE(result.is_ok());
  REQUIRE(*result == 17);

  auto text = th::spawn([] { return std::string("from a thread"); }).join();
  REQUIRE(text.unwrap() == "from a thread");
}

TEST_CASE("a void thread joins to an ok Result<void>", "[thread][spawn]") {
  std::atomic<bool> ran{false};
  auto result = th::spawn([&ran] { ran = true; }).join();
  REQUIRE(result.is_ok());
  REQUIRE(ran);
}

TEST_CASE("arguments are passed to the thread's function", "[thread][spawn]") {
  auto handle = th::spawn([](int a, const std::string& b, double c) { return b + std::to_string(a + static_cast<int>(c)); },
                          40, std::string("answer "), 2.0);
  REQUIRE(handle.join().unwrap() == "answer 42");
}

TEST_CASE("move-only callables, arguments and results work", "[thread][spawn]") {
  auto owned = std::make_unique<int>(5);
  auto arg = std::make_unique<int>(6);
  auto handle = th::spawn(
      [p = std::move(owned)](std::unique_ptr<int> q) { return std::make_unique<int>(*p * 10 + *q); }, std::move(arg));
  std::unique_ptr<int> out = handle.join().unwrap();
  REQUIRE(out != nullptr);
  REQUIRE(*out == 56);
}

TEST_CASE("arguments are copied, not referenced, unless wrapped in std::ref", "[thread][spawn]") {
  int value = 1;
  auto copied = th::spawn(
      [](int v) {
        v += 10;
        return v;
      },
      value);
  REQUIRE(copied.join().unwrap() == 11);
  REQUIRE(value == 1);
  auto referenced = th::spawn([](int& v) { v = 2; }, std::ref(value));
  REQUIRE(referenced.join().is_ok());
  REQUIRE(value == 2);
}

TEST_CASE("an exception escaping the thread comes back from join as a Panic", "[thread][spawn][panic]") {
  auto result = th::spawn([]() -> int { throw std::runtime_error("boom"); }).join();
  REQUIRE(result.is_err());
  REQUIRE(std::string(result.error().what()) == "boom");
  REQUIRE_THROWS_AS(result.error().rethrow(), std::runtime_error);
}

TEST_CASE("a thrown value that is not a std::exception is caught too", "[thread][spawn][panic]") {
  auto result = th::spawn([] { throw 42; }).join();
  REQUIRE(result.is_err());
  REQUIRE(std::string(result.error().what()) == spindle::Panic::non_standard_description);
  try {
    result.error().rethrow();
    FAIL("rethrow returned");
  } catch (int thrown) {
    REQUIRE(thrown == 42);
  }
}

TEST_CASE("unwrap on a panicked join names the panic", "[thread][spawn][panic]") {
  auto result = th::spawn([]() -> int { throw std::logic_error("broken invariant"); }).join();
  try {
    (void)std::move(result).unwrap();
    FAIL("unwrap returned");
  } catch (const spindle::BadResultAccess& e) {
    const std::string what = e.what();
    REQUIRE(what.find("broken invariant") != std::string::npos);
  }
}

TEST_CASE("join makes everything the thread wrote visible", "[thread][spawn]") {
  std::vector<int> data;  // plain memory, written only by the thread before join
  auto handle = th::spawn([&data] {
    for (int i = 0; i < 1000; ++i) {
      data.push_back(i);
    }
  });
  REQUIRE(handle.join().is_ok());
  REQUIRE(data.size() == 1000);
  REQUIRE(data[999] == 999);
}

TEST_CASE("the callable and its captures are destroyed before join returns", "[thread][spawn]") {
  struct Flag {
    std::atomic<bool>* destroyed;
    explicit Flag(std::atomic<bool>* d) : destroyed(d) {}
    Flag(Flag&& other) noexcept : destroyed(std::exchange(other.destroyed, nullptr)) {}
    Flag(const Flag&) = delete;
    ~Flag() {
      if (destroyed != nullptr) {
        destroyed->store(true);
      }
    }
  };

  SECTION("after a normal return") {
    std::atomic<bool> destroyed{false};
    auto handle = th::spawn([flag = Flag(&destroyed)] { return flag.destroyed != nullptr; });
    REQUIRE(handle.join().unwrap());
    REQUIRE(destroyed);
  }
  SECTION("after an exception") {
    std::atomic<bool> destroyed{false};
    auto handle = th::spawn([flag = Flag(&destroyed)] {
      (void)flag;
      throw std::runtime_error("x");
    });
    REQUIRE(handle.join().is_err());
    REQUIRE(destroyed);
  }
  SECTION("before is_finished() becomes true") {
    std::atomic<bool> destroyed{false};
    auto handle = th::spawn([flag = Flag(&destroyed)] { (void)flag; });
    REQUIRE(eventually([&] { return handle.is_finished(); }));
    REQUIRE(destroyed);
    REQUIRE(handle.join().is_ok());
  }
}

TEST_CASE("is_finished turns true when the function returns", "[thread][spawn]") {
  std::atomic<bool> release{false};
  const spindle::test::SetOnExit release_on_exit(release);
  auto handle = th::spawn([&release] {
    while (!release.load()) {
      th::yield_now();
    }
    return 3;
  });
  REQUIRE_FALSE(handle.is_finished());
  release = true;
  REQUIRE(eventually([&] { return handle.is_finished(); }));
  REQUIRE(handle.join().unwrap() == 3);
  REQUIRE(handle.is_finished());
}

TEST_CASE("destroying an unjoined handle detaches the thread, which runs on", "[thread][spawn]") {
  // Shared state outlives this test case's frame: the detached thread may
  // still be running when the test returns.
  auto started = std::make_shared<std::atomic<bool>>(false);
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto done = std::make_shared<std::atomic<bool>>(false);
  {
    auto handle = th::spawn([started, release, done] {
      started->store(true);
      const bool released = eventually([&] { return release->load(); });
      done->store(released);
    });
    REQUIRE(eventually([&] { return started->load(); }));
  }  // handle destroyed while the thread is blocked
  release->store(true);
  REQUIRE(eventually([&] { return done->load(); }));
}

TEST_CASE("move-assigning over an unjoined handle detaches its thread", "[thread][spawn]") {
  auto done = std::make_shared<std::atomic<int>>(0);
  auto first = th::spawn([done] { done->fetch_add(1); });
  first = th::spawn([done] { done->fetch_add(1); });
  REQUIRE(first.join().is_ok());
  REQUIRE(eventually([&] { return done->load() == 2; }));
}

TEST_CASE("a moved handle joins from its new owner", "[thread][spawn]") {
  auto handle = th::spawn([] { return 9; });
  th::JoinHandle<int> moved = std::move(handle);
  REQUIRE(moved.join().unwrap() == 9);
  // The moved-from handle is empty.
  REQUIRE_THROWS_AS((void)handle.join(), std::logic_error);  // NOLINT(bugprone-use-after-move)
  REQUIRE_THROWS_AS((void)handle.thread(), std::logic_error);
}

TEST_CASE("joining twice is reported as a programming error", "[thread][spawn]") {
  auto handle = th::spawn([] { return 1; });
  REQUIRE(handle.join().is_ok());
  REQUIRE_THROWS_AS((void)handle.join(), std::logic_error);
}

TEST_CASE("a thread joining its own handle gets an error, not a deadlock", "[thread][spawn]") {
  Watchdog watchdog("self-join");
  std::atomic<th::JoinHandle<void>*> self{nullptr};
  std::atomic<int> code{-1};
  auto handle = th::spawn([&self, &code] {
    th::JoinHandle<void>* me = nullptr;
    if (!eventually([&] { return (me = self.load()) != nullptr; })) {
      return;
    }
    try {
      (void)me->join();
      code = 0;
    } catch (const std::system_error& e) {
      code = e.code().value();
    }
  });
  self = &handle;
  REQUIRE(eventually([&] { return handle.is_finished(); }));
  REQUIRE(handle.join().is_ok());
  REQUIRE(code.load() == static_cast<int>(std::errc::resource_deadlock_would_occur));
}

TEST_CASE("the handle's thread() is the spawned thread", "[thread][spawn]") {
  std::atomic<std::uint64_t> seen{0};
  auto handle = th::spawn([&seen] { seen = th::current().id().as_u64(); });
  const th::ThreadId id = handle.thread().id();
  REQUIRE(handle.join().is_ok());
  REQUIRE(seen.load() == id.as_u64());
  REQUIRE(handle.thread().id() == id);  // still readable after join
  REQUIRE(id != th::current().id());
}

TEST_CASE("many threads each return their own result", "[thread][spawn][stress]") {
  std::vector<th::JoinHandle<int>> handles;
  for (int i = 0; i < 64; ++i) {
    handles.push_back(th::spawn([i] { return i * i; }));
  }
  for (int i = 0; i < 64; ++i) {
    REQUIRE(handles[static_cast<std::size_t>(i)].join().unwrap() == i * i);
  }
}

TEST_CASE("a detached thread whose result holds its own Thread is still freed", "[thread][spawn]") {
  struct Tracker {
    std::shared_ptr<std::atomic<bool>> destroyed;
    Tracker(Tracker&&) noexcept = default;
    explicit Tracker(std::shared_ptr<std::atomic<bool>> d) : destroyed(std::move(d)) {}
    ~Tracker() {
      if (destroyed) {
        destroyed->store(true);
      }
    }
  };
  auto destroyed = std::make_shared<std::atomic<bool>>(false);
  {
    auto handle = th::spawn([destroyed] { return std::pair<th::Thread, Tracker>(th::current(), Tracker(destroyed)); });
  }  // detached
  REQUIRE(eventually([&] { return destroyed->load(); }));
}

TEST_CASE("a result type that cannot be assigned works", "[thread][spawn]") {
  struct Fixed {
    const int x;
  };
  auto handle = th::spawn([] { return Fixed{7}; });
  REQUIRE(handle.join().unwrap().x == 7);
  auto lambda = th::spawn([] { return [](int v) { return v * 2; }; }).join().unwrap();
  REQUIRE(lambda(21) == 42);
}

#if defined(__GLIBC__)
TEST_CASE("a thread that calls pthread_exit joins to a Panic saying so", "[thread][spawn]") {
  auto result = th::spawn([]() -> int { pthread_exit(nullptr); }).join();
  REQUIRE(result.is_err());
  REQUIRE(std::string(result.error().what()).find("pthread_exit") != std::string::npos);
}
#endif
