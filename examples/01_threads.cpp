// SPDX-License-Identifier: MIT
//
// Tutorial section 1: "Starting a new thread".
//
// In Rust, std::thread::spawn runs a closure on a new OS thread and hands back
// a JoinHandle. Dropping the handle detaches the thread; join() waits for it
// and returns Result<T, Box<dyn Any>>: Ok with what the closure returned, or
// Err with the payload of the panic that killed the thread.
//
// In C++, std::thread's join() returns nothing, and an exception escaping the
// thread calls std::terminate. spindle::thread::spawn gives the Rust shape:
// join() returns spindle::Result<T, spindle::Panic>, where a Panic holds the
// exception that escaped. As in Rust, a thread still running when main
// returns is stopped with the process, so the detached thread's line may or
// may not appear.

#include <spindle/thread.hpp>

#include <iostream>
#include <syncstream>

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  // Detached: the handle is dropped at once, and the thread runs on its own.
  (void)spindle::thread::spawn([] { std::osyncstream(std::cout) << "Hello from a detached thread!\n"; });

  // A second thread whose result we want: join() hands it back, typed.
  auto handle = spindle::thread::spawn([] {
    std::osyncstream(std::cout) << "Hello from the second spawned thread!\n";
    return 17;
  });

  std::osyncstream(std::cout) << "Hello from the main thread!\n";

  // Rust's `match handle.join() { Ok(v) => ..., Err(e) => ... }`.
  const spindle::Result<int, spindle::Panic> joined = handle.join();
  if (joined.is_ok()) {
    std::osyncstream(std::cout) << "Second spawned thread returned " << *joined << "\n";
  } else {
    std::osyncstream(std::cout) << "Second spawned thread panicked: " << joined.error().what() << "\n";
  }
  return joined.is_ok() && *joined == 17 ? 0 : 1;
}
