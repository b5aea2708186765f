// SPDX-License-Identifier: MIT
//
// Beyond the tutorial: a pool of workers sharing one channel of jobs.
//
// Rust's std::sync::mpsc has one receiver per channel, so a pool of workers
// there shares it behind a Mutex (Arc<Mutex<Receiver<Job>>>), and one
// worker holding the lock while it waits keeps the others out.
// std::sync::mpmc and crossbeam-channel let every worker hold a clone of
// the receiver instead. spindle::mpmc is that: copy the Receiver for each
// worker; every message goes to exactly one of them.
//
// Four workers take 20 jobs from a bounded channel (the producer waits
// while 4 are queued) and send each result back on a second channel. When
// the producer is done it destroys its sender: each worker's loop ends once
// the jobs are drained. The main thread prints the results in job order, so
// the output is the same every time, whichever worker did which job.

#include <spindle/mpmc.hpp>
#include <spindle/thread.hpp>

#include <cstddef>
#include <iostream>
#include <utility>
#include <vector>

namespace mpmc = spindle::mpmc;
namespace th = spindle::thread;

struct Done {
  int job;
  long square;
};

int main() {  // NOLINT(bugprone-exception-escape): an escaping exception fails the example, as a panic does in Rust
  constexpr int jobs = 20;
  constexpr int workers = 4;
  auto [job_tx, job_rx] = mpmc::sync_channel<int>(4);
  auto [result_tx, result_rx] = mpmc::channel<Done>();

  std::vector<th::JoinHandle<int>> pool;
  pool.reserve(workers);
  for (int w = 0; w < workers; ++w) {
    // Each worker gets its own copy of the job receiver and of the result sender.
    pool.push_back(th::spawn([rx = job_rx, tx = result_tx]() mutable {
      int done = 0;
      for (int job : rx) {  // until the producer is gone and the jobs are drained
        (void)tx.send(Done{job, static_cast<long>(job) * job});
        ++done;
      }
      return done;
    }));
  }
  // Only the workers hold these now: the results channel ends with them.
  { auto mine = std::move(job_rx); }
  { auto mine = std::move(result_tx); }

  for (int job = 1; job <= jobs; ++job) {
    (void)job_tx.send(int{job});
  }
  { auto done = std::move(job_tx); }  // no more jobs

  std::vector<long> squares(jobs + 1, -1);
  std::vector<int> times_done(jobs + 1, 0);
  for (Done d : result_rx) {
    squares[static_cast<std::size_t>(d.job)] = d.square;
    ++times_done[static_cast<std::size_t>(d.job)];
  }
  int by_workers = 0;
  for (auto& worker : pool) {
    by_workers += worker.join().unwrap();
  }
  long sum = 0;
  bool each_once = true;
  for (int job = 1; job <= jobs; ++job) {
    sum += squares[static_cast<std::size_t>(job)];
    each_once = each_once && times_done[static_cast<std::size_t>(job)] == 1;
  }
  std::cout << "job 1 squared is " << squares[1] << "\n";
  std::cout << "job " << jobs << " squared is " << squares[jobs] << "\n";
  std::cout << "the workers did " << by_workers << " jobs, " << (each_once ? "each once" : "NOT each once")
            << ", and the squares sum to " << sum << "\n";
}
