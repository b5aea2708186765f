// SPDX-License-Identifier: MIT
//
// Tutorial section 2: "Cross-thread communication with channels".
//
// In Rust, mpsc::channel() returns a (Sender, Receiver) pair. The receiver
// moves into a spawned thread that loops `for received in rx`, printing each
// message; the loop ends when every Sender has been dropped and the channel
// is drained. The main thread sends 0..9, drops its sender, and joins.
//
// In C++ the shape is the same: spindle::mpsc::channel<int>() gives the pair,
// a range-for over the Receiver is Rust's `for received in rx`, and
// destroying the last Sender (here by letting it go out of scope) is Rust's
// drop(tx). send() returns a Result: it fails, handing the value back, only
// if the receiver is gone.

#include <spindle/mpsc.hpp>
#include <spindle/thread.hpp>

#include <iostream>
#include <utility>

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  auto [tx, rx] = spindle::mpsc::channel<int>();

  // The receiver moves into the thread, as with Rust's `move` closure.
  auto handle = spindle::thread::spawn([rx = std::move(rx)]() mutable {
    int count = 0;
    for (int received : rx) {  // blocks for each message; ends on disconnect
      std::cout << "Received " << received << '\n';
      ++count;
    }
    return count;
  });

  {
    auto sender = std::move(tx);
    for (int i = 0; i < 10; ++i) {
      sender.send(i).unwrap();
    }
  }  // the last Sender goes: Rust's drop(tx), and the receiving loop ends

  const int received = handle.join().unwrap();
  return received == 10 ? 0 : 1;
}
