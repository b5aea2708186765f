// SPDX-License-Identifier: MIT
//
// Beyond the tutorial: select, waiting on several channels at once.
//
// In Rust, crossbeam-channel's select! (like Go's select statement) blocks
// until one of several channel operations can proceed, and runs the branch
// of exactly that one. A worker's loop is its classic use: wait for a job, an
// order to quit, or the next beat of a heartbeat, whichever comes first, and
// give up if nothing comes for too long.
//
// C++ has no such statement and spindle needs no macro: mpsc::select takes
// its branches as arms, on_recv(rx, handler) and on_timeout(d, handler),
// runs the handler of the one that fired and returns what that handler
// returned. A timer is a receiver: tick(d) gets the time every period d, so
// the heartbeat is one more on_recv arm, and no thread runs it.
//
// The second part uses the Select object instead, for a set of channels
// known only at run time: a collector merges two producers until both are
// done. Each line is printed by one thread after the lines it depends on, so
// the output comes out the same every time.

#include <spindle/select.hpp>
#include <spindle/thread.hpp>

#include <chrono>
#include <cstddef>
#include <iostream>
#include <utility>
#include <vector>

namespace mpsc = spindle::mpsc;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Quit {};

// Squares the numbers it is sent; at every heartbeat, tells the supervisor
// how many it has done. Returns how many.
int worker(mpsc::Receiver<int> jobs, mpsc::Receiver<Quit> quit, mpsc::Sender<int> progress) {
  auto heartbeat = mpsc::tick(10ms);
  // A supervisor that sends neither a job nor a quit for this long is gone.
  // The heartbeat ends a select every 10 ms, so the limit is a deadline
  // kept across selects (on_timeout would count from each select).
  constexpr auto patience = 10s;
  auto give_up_at = Clock::now() + patience;
  int done = 0;

  // One handler per arm; each says whether to go on.
  const auto on_job = [&](spindle::Result<int, mpsc::RecvError> job) {
    if (job.is_err()) {
      return false;  // every sender is gone: no job will come
    }
    std::cout << "worker: " << *job << " squared is " << *job * *job << '\n';
    ++done;
    give_up_at = Clock::now() + patience;
    return true;
  };
  const auto on_quit = [&](auto) {  // a Quit, or every quit sender gone: the same
    std::cout << "worker: quit after " << done << " jobs\n";
    return false;
  };
  const auto on_beat = [&](auto) { return progress.send(done).is_ok(); };
  const auto on_silence = [&] {
    std::cout << "worker: no word from the supervisor for " << patience.count() << " s, giving up\n";
    return false;
  };

  bool running = true;
  while (running) {
    // Blocks until one arm can proceed, then runs that arm's handler alone.
    running = mpsc::select(mpsc::on_recv(jobs, on_job),        // a job, or no more senders
                           mpsc::on_recv(quit, on_quit),       // told to quit
                           mpsc::on_recv(heartbeat, on_beat),  // every 10 ms
                           mpsc::on_deadline(give_up_at, on_silence));
  }
  return done;
}

// Part 2. Two producers send three numbers each and finish; the collector
// takes whatever comes from either until both channels are disconnected.
// Returns whether every number arrived, in its producer's order.
bool merge() {
  std::vector<mpsc::Receiver<int>> sources;
  std::vector<spindle::thread::JoinHandle<void>> producers;
  for (int p = 1; p <= 2; ++p) {
    auto [tx, rx] = mpsc::channel<int>();
    sources.push_back(std::move(rx));
    producers.push_back(spindle::thread::spawn([tx = std::move(tx), p]() mutable {
      for (int k = 1; k <= 3; ++k) {
        tx.send(p * k).unwrap();
      }
    }));  // tx goes with the thread's end: its channel is disconnected
  }

  // The Select refers to the receivers: sources must not grow from here on.
  mpsc::Select sel;  // fair: each call looks in a shuffled order
  for (auto& rx : sources) {
    sel.recv(rx);  // returns its index: 0, 1, ... as in sources
  }
  std::vector<std::vector<int>> got(sources.size());
  for (std::size_t open = sources.size(); open > 0;) {
    auto op = sel.select();
    const std::size_t i = op.index();
    auto value = op.recv(sources[i]);  // completes the receive it started
    if (value.is_ok()) {
      got[i].push_back(*value);
    } else {
      sel.remove(i);  // disconnected and drained: stop watching it
      --open;
    }
  }

  for (auto& producer : producers) {
    producer.join().unwrap();
  }
  for (std::size_t i = 0; i < got.size(); ++i) {
    std::cout << "collector: from producer " << i + 1 << ':';
    for (const int v : got[i]) {
      std::cout << ' ' << v;
    }
    std::cout << '\n';
  }
  return got == std::vector<std::vector<int>>{{1, 2, 3}, {2, 4, 6}};
}

}  // namespace

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  auto [job_tx, job_rx] = mpsc::channel<int>();
  auto [quit_tx, quit_rx] = mpsc::channel<Quit>();
  auto [progress_tx, progress_rx] = mpsc::channel<int>();
  auto handle = spindle::thread::spawn(worker, std::move(job_rx), std::move(quit_rx), std::move(progress_tx));

  for (int n = 1; n <= 3; ++n) {
    job_tx.send(n).unwrap();
  }
  // Heartbeats come every 10 ms, each with the worker's count so far.
  for (const int done : progress_rx) {
    if (done == 3) {
      std::cout << "supervisor: a heartbeat says all 3 jobs are done\n";
      break;
    }
  }
  quit_tx.send(Quit{}).unwrap();
  const int done = handle.join().unwrap();

  const bool merged = merge();
  return done == 3 && merged ? 0 : 1;
}
