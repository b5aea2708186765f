// SPDX-License-Identifier: MIT
//
// spindle's Rust peers, one run of one (workload, implementation) pair per
// process: the same workloads as ../../cpp/compare.cpp (its header defines
// them), the same message counts, thread shapes, start gate and checks, and
// the same output line, so that scripts/bench puts both in one table.
//
//   spindle-bench-compare --list                 the pairs, "workload impl" a line
//   spindle-bench-compare WORKLOAD IMPL [--n N] [--cap C]
//   spindle-bench-compare --smoke                every pair once, on a few messages
//
//   workload=spsc_unbounded impl=rs/crossbeam n=1000000 threads=2 wall_ns=61234567 cpu_ns=120123456 check=ok
//
// A failed check panics (exit status 101), so a broken implementation cannot
// post a time; bad arguments exit with 2. Written for rustc 1.63 (Debian 12).

use std::process::exit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

// --- timing and the start gate ---------------------------------------------------

fn process_cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec that clock_gettime writes.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

struct Timing {
    n: u64,
    threads: u32,
    wall: Duration,
    cpu_ns: f64,
}

/// Wall clock and the process's CPU time (all threads) between start and stop.
struct Stopwatch {
    t0: Instant,
    cpu0: f64,
}

impl Stopwatch {
    fn start() -> Self {
        let cpu0 = process_cpu_ns();
        Stopwatch {
            t0: Instant::now(),
            cpu0,
        }
    }
    fn stop(&self, n: u64, threads: u32) -> Timing {
        let wall = self.t0.elapsed();
        let cpu_ns = process_cpu_ns() - self.cpu0;
        Timing {
            n,
            threads,
            wall,
            cpu_ns,
        }
    }
}

/// Holds freshly started threads until the clock starts; they spin, yielding,
/// so the release is one store (as StartGate in benchmarks/support/common.hpp).
struct StartGate {
    arriving: AtomicUsize,
    open: AtomicBool,
}

impl StartGate {
    fn new(threads: usize) -> Arc<Self> {
        Arc::new(StartGate {
            arriving: AtomicUsize::new(threads),
            open: AtomicBool::new(false),
        })
    }
    fn arrive_and_wait(&self) {
        self.arriving.fetch_sub(1, Ordering::Relaxed);
        while !self.open.load(Ordering::Acquire) {
            thread::yield_now();
        }
    }
    fn wait_arrived(&self) {
        while self.arriving.load(Ordering::Relaxed) != 0 {
            thread::yield_now();
        }
    }
    fn open(&self) {
        self.open.store(true, Ordering::Release);
    }
}

/// First value of producer p of `producers` sending its share of 1..=n.
fn first_of(n: u64, p: u64, producers: u64) -> u64 {
    1 + n * p / producers
}

#[derive(Clone, Copy, Default, PartialEq, Debug)]
struct Checksum {
    sum: u64,
    squares: u64, // wraps, as does the expected one
}

impl Checksum {
    fn add(&mut self, v: u64) {
        self.sum = self.sum.wrapping_add(v);
        self.squares = self.squares.wrapping_add(v.wrapping_mul(v));
    }
    fn merge(&mut self, o: Checksum) {
        self.sum = self.sum.wrapping_add(o.sum);
        self.squares = self.squares.wrapping_add(o.squares);
    }
    fn of_range(n: u64) -> Checksum {
        let mut c = Checksum::default();
        for v in 1..=n {
            c.add(v);
        }
        c
    }
}

// --- channels ----------------------------------------------------------------------

trait Tx: Send + Clone + 'static {
    fn put(&self, v: u64);
}
trait Rx: Send + 'static {
    fn take(&self) -> u64;
}

impl Tx for std::sync::mpsc::Sender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("std mpsc: send failed");
    }
}
impl Tx for std::sync::mpsc::SyncSender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("std mpsc: send failed");
    }
}
impl Rx for std::sync::mpsc::Receiver<u64> {
    fn take(&self) -> u64 {
        self.recv().expect("std mpsc: recv failed")
    }
}
impl Tx for crossbeam_channel::Sender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("crossbeam: send failed");
    }
}
impl Rx for crossbeam_channel::Receiver<u64> {
    fn take(&self) -> u64 {
        self.recv().expect("crossbeam: recv failed")
    }
}
impl Tx for flume::Sender<u64> {
    fn put(&self, v: u64) {
        self.send(v).expect("flume: send failed");
    }
}
impl Rx for flume::Receiver<u64> {
    fn take(&self) -> u64 {
        self.recv().expect("flume: recv failed")
    }
}

fn stream<T: Tx, R: Rx>((tx, rx): (T, R), n: u64, producers: u64) -> Timing {
    let gate = StartGate::new(producers as usize);
    let mut handles = Vec::with_capacity(producers as usize);
    for p in 0..producers {
        let (tx, gate) = (tx.clone(), gate.clone());
        let (first, last) = (first_of(n, p, producers), first_of(n, p + 1, producers));
        handles.push(thread::spawn(move || {
            gate.arrive_and_wait();
            for v in first..last {
                tx.put(v);
            }
        }));
    }
    drop(tx);
    gate.wait_arrived();
    let mut got = Checksum::default();
    let watch = Stopwatch::start();
    gate.open();
    for _ in 0..n {
        got.add(rx.take());
    }
    let t = watch.stop(n, producers as u32 + 1);
    for h in handles {
        h.join().expect("a producer panicked");
    }
    assert_eq!(
        got,
        Checksum::of_range(n),
        "stream: the received values are not 1..=n"
    );
    t
}

fn pingpong<T: Tx, R: Rx>(a: (T, R), b: (T, R), n: u64) -> Timing {
    let (atx, arx) = a;
    let (btx, brx) = b;
    let gate = StartGate::new(1);
    let g = gate.clone();
    let echo = thread::spawn(move || {
        g.arrive_and_wait();
        for _ in 0..n {
            btx.put(arx.take() + 1);
        }
    });
    gate.wait_arrived();
    let watch = Stopwatch::start();
    gate.open();
    for i in 0..n {
        atx.put(i);
        assert_eq!(brx.take(), i + 1, "pingpong: wrong reply");
    }
    let t = watch.stop(n, 2);
    echo.join().expect("the echo panicked");
    t
}

fn mpmc2x2<T: Tx, R: Rx + Clone>((tx, rx): (T, R), n: u64) -> Timing {
    let gate = StartGate::new(4);
    let mut producers = Vec::with_capacity(2);
    for p in 0..2 {
        let (tx, gate) = (tx.clone(), gate.clone());
        let (first, last) = (first_of(n, p, 2), first_of(n, p + 1, 2));
        producers.push(thread::spawn(move || {
            gate.arrive_and_wait();
            for v in first..last {
                tx.put(v);
            }
            tx.put(0); // this producer is done
        }));
    }
    drop(tx);
    let mut consumers = Vec::with_capacity(2);
    for _ in 0..2 {
        let (rx, gate) = (rx.clone(), gate.clone());
        consumers.push(thread::spawn(move || {
            gate.arrive_and_wait();
            let (mut got, mut count) = (Checksum::default(), 0u64);
            loop {
                let v = rx.take();
                if v == 0 {
                    break;
                }
                got.add(v);
                count += 1;
            }
            (got, count)
        }));
    }
    drop(rx);
    gate.wait_arrived();
    let watch = Stopwatch::start();
    gate.open();
    let (mut got, mut count) = (Checksum::default(), 0u64);
    for c in consumers {
        let (g, k) = c.join().expect("a consumer panicked");
        got.merge(g);
        count += k;
    }
    let t = watch.stop(n, 4);
    for p in producers {
        p.join().expect("a producer panicked");
    }
    assert!(
        got == Checksum::of_range(n) && count == n,
        "mpmc2x2: the received values are not 1..=n"
    );
    t
}

/// Two unbounded channels, one producer each; `recv_all` receives all n
/// values through a select over both receivers and returns their checksum.
fn select2<T: Tx, R>(
    chans: Vec<(T, R)>,
    n: u64,
    recv_all: impl FnOnce(&[R], u64) -> Checksum,
) -> Timing {
    let gate = StartGate::new(2);
    let mut rxs = Vec::with_capacity(2);
    let mut producers = Vec::with_capacity(2);
    for (p, (tx, rx)) in chans.into_iter().enumerate() {
        rxs.push(rx);
        let gate = gate.clone();
        let (first, last) = (first_of(n, p as u64, 2), first_of(n, p as u64 + 1, 2));
        producers.push(thread::spawn(move || {
            gate.arrive_and_wait();
            for v in first..last {
                tx.put(v);
            }
        }));
    }
    gate.wait_arrived();
    let watch = Stopwatch::start();
    gate.open();
    let got = recv_all(&rxs, n);
    let t = watch.stop(n, 3);
    for p in producers {
        p.join().expect("a producer panicked");
    }
    assert_eq!(
        got,
        Checksum::of_range(n),
        "select2: the received values are not 1..=n"
    );
    t
}

/// crossbeam: one Select built once; per message select(), then recv on the
/// chosen receiver. A disconnected (done and drained) channel is removed.
fn select2_crossbeam(n: u64) -> Timing {
    use crossbeam_channel as cb;
    let chans: Vec<(cb::Sender<u64>, cb::Receiver<u64>)> =
        (0..2).map(|_| cb::unbounded()).collect();
    select2(chans, n, |rxs, n| {
        let mut sel = cb::Select::new();
        for r in rxs {
            sel.recv(r);
        }
        let (mut got, mut count, mut removed) = (Checksum::default(), 0u64, 0usize);
        while count < n {
            let op = sel.select();
            let i = op.index();
            match op.recv(&rxs[i]) {
                Ok(v) => {
                    got.add(v);
                    count += 1;
                }
                Err(_) => {
                    sel.remove(i);
                    removed += 1;
                    assert!(
                        removed < rxs.len(),
                        "select2: every channel disconnected before n values came"
                    );
                }
            }
        }
        got
    })
}

/// flume: a Selector is consumed by wait(), so one is built per message, with
/// a recv arm per channel still connected (flume's documented use).
fn select2_flume(n: u64) -> Timing {
    let chans: Vec<(flume::Sender<u64>, flume::Receiver<u64>)> =
        (0..2).map(|_| flume::unbounded()).collect();
    select2(chans, n, |rxs, n| {
        let mut live = vec![true; rxs.len()];
        let (mut got, mut count) = (Checksum::default(), 0u64);
        while count < n {
            assert!(
                live.iter().any(|&l| l),
                "select2: every channel disconnected before n values came"
            );
            let mut sel = flume::Selector::new();
            for (i, r) in rxs.iter().enumerate() {
                if live[i] {
                    sel = sel.recv(r, move |res| (i, res));
                }
            }
            match sel.wait() {
                (_, Ok(v)) => {
                    got.add(v);
                    count += 1;
                }
                (i, Err(_)) => live[i] = false,
            }
        }
        got
    })
}

// --- locks -------------------------------------------------------------------------

/// Four counters bumped together: a reader that finds them unequal saw a torn write.
#[derive(Default)]
struct Data {
    a: u64,
    b: u64,
    c: u64,
    d: u64,
}

fn read_sum(d: &Data) -> u64 {
    assert!(d.a == d.b && d.b == d.c && d.c == d.d, "torn read");
    d.a
}

fn bump(d: &mut Data) -> u64 {
    d.a += 1;
    d.b += 1;
    d.c += 1;
    d.d += 1;
    d.a
}

/// read_with: shared access (exclusive for the mutexes); write_with: exclusive.
trait Lock: Send + Sync + 'static {
    fn new_default() -> Self;
    fn read_with<R>(&self, f: impl FnOnce(&Data) -> R) -> R;
    fn write_with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R;
}

impl Lock for std::sync::Mutex<Data> {
    fn new_default() -> Self {
        std::sync::Mutex::new(Data::default())
    }
    fn read_with<R>(&self, f: impl FnOnce(&Data) -> R) -> R {
        f(&self.lock().unwrap())
    }
    fn write_with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.lock().unwrap())
    }
}
impl Lock for parking_lot::Mutex<Data> {
    fn new_default() -> Self {
        parking_lot::Mutex::new(Data::default())
    }
    fn read_with<R>(&self, f: impl FnOnce(&Data) -> R) -> R {
        f(&self.lock())
    }
    fn write_with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.lock())
    }
}
impl Lock for std::sync::RwLock<Data> {
    fn new_default() -> Self {
        std::sync::RwLock::new(Data::default())
    }
    fn read_with<R>(&self, f: impl FnOnce(&Data) -> R) -> R {
        f(&self.read().unwrap())
    }
    fn write_with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.write().unwrap())
    }
}
impl Lock for parking_lot::RwLock<Data> {
    fn new_default() -> Self {
        parking_lot::RwLock::new(Data::default())
    }
    fn read_with<R>(&self, f: impl FnOnce(&Data) -> R) -> R {
        f(&self.read())
    }
    fn write_with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        f(&mut self.write())
    }
}

fn uncontended_write<L: Lock>(n: u64) -> Timing {
    let lock = L::new_default();
    let watch = Stopwatch::start();
    for _ in 0..n {
        lock.write_with(bump);
    }
    let t = watch.stop(n, 1);
    assert_eq!(
        lock.read_with(read_sum),
        n,
        "uncontended_write: lost writes"
    );
    t
}

fn uncontended_read<L: Lock>(n: u64) -> Timing {
    let lock = L::new_default();
    lock.write_with(bump);
    let mut sum = 0u64;
    let watch = Stopwatch::start();
    for _ in 0..n {
        sum += lock.read_with(read_sum);
    }
    let t = watch.stop(n, 1);
    assert_eq!(sum, n, "uncontended_read: wrong sum");
    t
}

/// How many of i in [0, m) have i % 100 == r.
fn count_residue(m: u64, r: u64) -> u64 {
    if m > r {
        (m - 1 - r) / 100 + 1
    } else {
        0
    }
}

fn read_heavy<L: Lock>(n: u64) -> Timing {
    let m = n / 2; // per thread
    let lock = Arc::new(L::new_default());
    let gate = StartGate::new(2);
    let mut threads = Vec::with_capacity(2);
    for th in 0..2u64 {
        let (lock, gate) = (lock.clone(), gate.clone());
        threads.push(thread::spawn(move || {
            gate.arrive_and_wait();
            let write_at = 50 * th;
            let mut sum = 0u64;
            for i in 0..m {
                if i % 100 == write_at {
                    lock.write_with(bump);
                } else {
                    sum = sum.wrapping_add(lock.read_with(read_sum));
                }
            }
            sum
        }));
    }
    gate.wait_arrived();
    let watch = Stopwatch::start();
    gate.open();
    for h in threads {
        h.join().expect("a thread panicked");
    }
    let t = watch.stop(2 * m, 2);
    assert_eq!(
        lock.read_with(read_sum),
        count_residue(m, 0) + count_residue(m, 50),
        "read_heavy: lost writes"
    );
    t
}

fn one_writer_two_readers<L: Lock>(n: u64) -> Timing {
    let m = n / 3; // per thread
    let lock = Arc::new(L::new_default());
    let gate = StartGate::new(3);
    let mut threads = Vec::with_capacity(3);
    {
        let (lock, gate) = (lock.clone(), gate.clone());
        threads.push(thread::spawn(move || {
            gate.arrive_and_wait();
            for _ in 0..m {
                lock.write_with(bump);
            }
        }));
    }
    for _ in 0..2 {
        let (lock, gate) = (lock.clone(), gate.clone());
        threads.push(thread::spawn(move || {
            gate.arrive_and_wait();
            let mut last = 0u64;
            for _ in 0..m {
                let v = lock.read_with(read_sum);
                assert!(v >= last, "1w2r: a reader saw the value go back");
                last = v;
            }
        }));
    }
    gate.wait_arrived();
    let watch = Stopwatch::start();
    gate.open();
    for h in threads {
        h.join().expect("a thread panicked");
    }
    let t = watch.stop(3 * m, 3);
    assert_eq!(lock.read_with(read_sum), m, "1w2r: lost writes");
    t
}

// --- the pairs ---------------------------------------------------------------------

type Run = fn(&Params) -> Timing;

struct Params {
    n: u64,
    cap: usize,
}

fn pairs() -> Vec<(&'static str, &'static str, Run)> {
    use crossbeam_channel as cb;
    use std::sync::mpsc;
    vec![
        ("spsc_unbounded", "rs/std_mpsc", |p| {
            stream(mpsc::channel(), p.n, 1)
        }),
        ("spsc_unbounded", "rs/crossbeam", |p| {
            stream(cb::unbounded(), p.n, 1)
        }),
        ("spsc_unbounded", "rs/flume", |p| {
            stream(flume::unbounded(), p.n, 1)
        }),
        ("mpsc2_unbounded", "rs/std_mpsc", |p| {
            stream(mpsc::channel(), p.n, 2)
        }),
        ("mpsc2_unbounded", "rs/crossbeam", |p| {
            stream(cb::unbounded(), p.n, 2)
        }),
        ("mpsc2_unbounded", "rs/flume", |p| {
            stream(flume::unbounded(), p.n, 2)
        }),
        ("mpsc4_unbounded", "rs/std_mpsc", |p| {
            stream(mpsc::channel(), p.n, 4)
        }),
        ("mpsc4_unbounded", "rs/crossbeam", |p| {
            stream(cb::unbounded(), p.n, 4)
        }),
        ("mpsc4_unbounded", "rs/flume", |p| {
            stream(flume::unbounded(), p.n, 4)
        }),
        ("spsc_bounded", "rs/std_mpsc", |p| {
            stream(mpsc::sync_channel(p.cap), p.n, 1)
        }),
        ("spsc_bounded", "rs/crossbeam", |p| {
            stream(cb::bounded(p.cap), p.n, 1)
        }),
        ("spsc_bounded", "rs/flume", |p| {
            stream(flume::bounded(p.cap), p.n, 1)
        }),
        ("rendezvous", "rs/std_mpsc", |p| {
            stream(mpsc::sync_channel(0), p.n, 1)
        }),
        ("rendezvous", "rs/crossbeam", |p| {
            stream(cb::bounded(0), p.n, 1)
        }),
        ("rendezvous", "rs/flume", |p| {
            stream(flume::bounded(0), p.n, 1)
        }),
        ("pingpong", "rs/std_mpsc", |p| {
            pingpong(mpsc::channel(), mpsc::channel(), p.n)
        }),
        ("pingpong", "rs/crossbeam", |p| {
            pingpong(cb::unbounded(), cb::unbounded(), p.n)
        }),
        ("pingpong", "rs/flume", |p| {
            pingpong(flume::unbounded(), flume::unbounded(), p.n)
        }),
        ("select2", "rs/crossbeam", |p| select2_crossbeam(p.n)),
        ("select2", "rs/flume", |p| select2_flume(p.n)),
        ("mpmc2x2_unbounded", "rs/crossbeam", |p| {
            mpmc2x2(cb::unbounded(), p.n)
        }),
        ("mpmc2x2_unbounded", "rs/flume", |p| {
            mpmc2x2(flume::unbounded(), p.n)
        }),
        ("mpmc2x2_bounded", "rs/crossbeam", |p| {
            mpmc2x2(cb::bounded(p.cap), p.n)
        }),
        ("mpmc2x2_bounded", "rs/flume", |p| {
            mpmc2x2(flume::bounded(p.cap), p.n)
        }),
        ("mutex_uncontended", "rs/std_mutex", |p| {
            uncontended_write::<std::sync::Mutex<Data>>(p.n)
        }),
        ("mutex_uncontended", "rs/parking_lot", |p| {
            uncontended_write::<parking_lot::Mutex<Data>>(p.n)
        }),
        ("rwlock_read_uncontended", "rs/std_rwlock", |p| {
            uncontended_read::<std::sync::RwLock<Data>>(p.n)
        }),
        ("rwlock_read_uncontended", "rs/parking_lot", |p| {
            uncontended_read::<parking_lot::RwLock<Data>>(p.n)
        }),
        ("rwlock_write_uncontended", "rs/std_rwlock", |p| {
            uncontended_write::<std::sync::RwLock<Data>>(p.n)
        }),
        ("rwlock_write_uncontended", "rs/parking_lot", |p| {
            uncontended_write::<parking_lot::RwLock<Data>>(p.n)
        }),
        ("rwlock_read_heavy", "rs/std_rwlock", |p| {
            read_heavy::<std::sync::RwLock<Data>>(p.n)
        }),
        ("rwlock_read_heavy", "rs/parking_lot", |p| {
            read_heavy::<parking_lot::RwLock<Data>>(p.n)
        }),
        ("rwlock_1w2r", "rs/std_rwlock", |p| {
            one_writer_two_readers::<std::sync::RwLock<Data>>(p.n)
        }),
        ("rwlock_1w2r", "rs/parking_lot", |p| {
            one_writer_two_readers::<parking_lot::RwLock<Data>>(p.n)
        }),
    ]
}

fn print(workload: &str, imp: &str, p: &Params, t: &Timing) {
    let mut line = format!(
        "workload={} impl={} n={} threads={} wall_ns={:.0} cpu_ns={:.0}",
        workload,
        imp,
        t.n,
        t.threads,
        t.wall.as_nanos() as f64,
        t.cpu_ns
    );
    if workload.contains("_bounded") {
        line.push_str(&format!(" cap={}", p.cap));
    }
    println!("{} check=ok", line);
}

fn usage() -> ! {
    eprintln!(
        "usage: spindle-bench-compare --list\n       spindle-bench-compare WORKLOAD IMPL [--n N] [--cap C]\n       spindle-bench-compare --smoke"
    );
    exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 1 && args[0] == "--list" {
        for (w, i, _) in pairs() {
            println!("{} {}", w, i);
        }
        return;
    }
    if args.len() == 1 && args[0] == "--smoke" {
        let p = Params { n: 1200, cap: 16 };
        for (w, i, run) in pairs() {
            print(w, i, &p, &run(&p));
        }
        return;
    }
    if args.len() < 2 || args.len() % 2 != 0 {
        usage();
    }
    let mut p = Params {
        n: 100_000,
        cap: 1024,
    };
    for kv in args[2..].chunks(2) {
        let v: u64 = match kv[1].parse() {
            Ok(v) if v > 0 => v,
            _ => usage(),
        };
        match kv[0].as_str() {
            "--n" => p.n = v,
            "--cap" => p.cap = v as usize,
            _ => usage(),
        }
    }
    for (w, i, run) in pairs() {
        if w == args[0] && i == args[1] {
            print(w, i, &p, &run(&p));
            return;
        }
    }
    eprintln!(
        "spindle-bench-compare: no pair \"{} {}\" (see --list)",
        args[0], args[1]
    );
    exit(2);
}
