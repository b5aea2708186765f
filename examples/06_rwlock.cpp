// SPDX-License-Identifier: MIT
//
// Tutorial section 5: "Read-write locks".
//
// In Rust, an RwLock<T> lets any number of readers share the value, or one
// writer change it, never both. The tutorial shares one RwLock<usize> (in an
// Arc) among a writer thread that keeps incrementing the value and printing
// "Updated value: N", and two reader threads: one prints "Read value: N",
// the other "Read value squared: N" (the square). read() and write() return
// LockResults whose guards deref to the value; dropping a guard unlocks.
//
// In C++ the shape is the same: spindle::sync::RwLock<int> owns the int,
// lock.read().unwrap() is a read guard (`*guard` is a const int&) and
// lock.write().unwrap() a write guard; the guard's destructor unlocks. The
// tutorial's threads loop forever; here the writer stops at 10 and each
// reader stops once it has seen 10, so the example ends by itself. The
// threads borrow the lock from main through spindle::thread::scope instead
// of sharing it through an Arc. A reader prints only when the value changes,
// and the example checks that every value a reader saw is one the writer
// wrote (0, the initial value, to 10), in increasing order.

#include <spindle/sync.hpp>
#include <spindle/thread.hpp>

#include <chrono>
#include <cstddef>
#include <iostream>
#include <syncstream>
#include <vector>

namespace {

constexpr int last_value = 10;

// Reads the lock until it holds last_value, calling show(value) each time
// the value changes; returns every value seen.
template <class Show>
std::vector<int> read_until_last(const spindle::sync::RwLock<int>& lock, Show show) {
  std::vector<int> seen;
  for (;;) {
    int value = 0;
    {
      const auto guard = lock.read().unwrap();  // shared: the other reader may hold it too
      value = *guard;
      if (seen.empty() || value != seen.back()) {
        show(*guard);  // still under the read lock: the writer waits
        seen.push_back(value);
      }
    }  // the guard goes: the read lock is released
    if (value == last_value) {
      return seen;
    }
    spindle::thread::sleep(std::chrono::milliseconds(2));
  }
}

// True if every value is one the writer wrote, in increasing order, ending
// with the last.
bool plausible(const std::vector<int>& seen) {
  for (std::size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] < 0 || seen[i] > last_value || (i > 0 && seen[i] <= seen[i - 1])) {
      return false;
    }
  }
  return !seen.empty() && seen.back() == last_value;
}

}  // namespace

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  spindle::sync::RwLock<int> lock(0);
  std::vector<int> seen1;
  std::vector<int> seen2;

  spindle::thread::scope([&](spindle::thread::Scope& s) {
    auto writer = s.spawn([&] {
      for (int i = 1; i <= last_value; ++i) {
        spindle::thread::sleep(std::chrono::milliseconds(20));
        auto guard = lock.write().unwrap();  // exclusive: no reader holds the lock now
        *guard += 1;
        // Printed under the lock: no reader sees the value before this line is out.
        std::osyncstream(std::cout) << "Updated value: " << *guard << '\n';
      }
    });
    auto reader1 = s.spawn([&] {
      return read_until_last(lock, [](int v) { std::osyncstream(std::cout) << "Read value: " << v << '\n'; });
    });
    auto reader2 = s.spawn([&] {
      return read_until_last(lock,
                             [](int v) { std::osyncstream(std::cout) << "Read value squared: " << v * v << '\n'; });
    });
    writer.join().unwrap();
    seen1 = reader1.join().unwrap();
    seen2 = reader2.join().unwrap();
  });

  if (!plausible(seen1) || !plausible(seen2)) {
    std::cout << "MISMATCH: a reader saw a value the writer never wrote, or saw the values out of order\n";
    return 1;
  }
  std::cout << "Both readers saw the last value " << last_value << " (reader 1 saw " << seen1.size()
            << " values, reader 2 saw " << seen2.size() << ")\n";
  return 0;
}
