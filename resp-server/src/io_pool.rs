//! The threads that serve connections: one single-threaded tokio runtime per thread, each
//! with its own epoll set, and each connection pinned to one of them (round-robin at accept).
//!
//! Why not tokio's multi-threaded runtime: there only one worker at a time polls the I/O
//! driver, and it hands the tasks it wakes to the other workers, unparking them through a
//! futex. Under redis-benchmark's unpipelined load (50 clients, one request each in flight)
//! that hand-off happens for nearly every request: `perf` put ~10% of the server's CPU in the
//! scheduler's context switches (`finish_task_switch`) on the 2-vCPU benchmark machine. A
//! thread per runtime polls its own sockets and runs the tasks it woke itself, as Redis's
//! I/O threads and thread-per-core servers do; the threads meet only in the engine.

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// A fixed set of single-threaded runtimes, each driven by its own OS thread.
pub struct IoPool {
    handles: Vec<Handle>,
    next: AtomicUsize,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl IoPool {
    /// Starts `n` threads (at least one), named `pmemkv-io-N`.
    pub fn start(n: usize) -> std::io::Result<IoPool> {
        let mut pool =
            IoPool { handles: Vec::new(), next: AtomicUsize::new(0), stops: Vec::new(), threads: Vec::new() };
        for i in 0..n.max(1) {
            // Before the thread waits for events, the replies its connections deferred go out
            // together (see `crate::burst`).
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .on_thread_park(crate::burst::flush_deferred)
                .build()?;
            let (stop_tx, stop_rx) = oneshot::channel::<()>();
            pool.handles.push(rt.handle().clone());
            pool.stops.push(stop_tx);
            let thread = std::thread::Builder::new().name(format!("pmemkv-io-{i}")).spawn(move || {
                // Runs the connections spawned onto this runtime until the pool stops.
                rt.block_on(async move {
                    let _ = stop_rx.await;
                });
            })?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// The number of threads.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Always false: a pool has at least one thread.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// The runtime that gets the next connection (round-robin).
    pub fn next(&self) -> &Handle {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        &self.handles[i]
    }

    /// Stops every thread once the tasks on it are finished or aborted, and joins them.
    pub fn stop(mut self) {
        self.stops.clear();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The default number of connection threads: half the CPUs, at least one. The other half
/// is left to the engine's maintenance and fsync threads and to clients on the same host.
/// Measured on the 2-vCPU benchmark machine (redis-benchmark on the same host): one thread
/// against two, alternating, gave SET 90–97 k against 79–88 k req/s with p99 0.7–0.9 ms
/// against 2.7–3.5 ms, ZADD 50–56 k against 45–50 k, pipelined GET 797–842 k against 765–767 k
/// (p99 1.4–1.5 against 2.2–4.6 ms); only LRANGE_100, all reads, was faster with two (40–42 k
/// against 34 k). Two threads contend for the engine's writer mutex, and when either is
/// preempted by the client or the maintenance thread its connections wait a time slice.
pub fn default_threads() -> usize {
    (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1)
}
