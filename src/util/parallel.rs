//! Running small pure jobs on every core.

use std::sync::mpsc;

/// The cores this process may use (asked once: the standard library reads the
/// cgroup files on every call).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `f` over `items` on every core, results in order. The threads are rayon's
/// pool, started once and kept for the life of the process: a thread's state
/// (e.g. a compressor's tables, kept in a thread-local) outlives the batch, and
/// no threads are started and torn down per batch (each exit unmaps a stack,
/// and every unmap of a multi-threaded process interrupts the other cores to
/// flush their TLBs). Small jobs (one item) run on the calling thread.
pub(crate) fn parallel_map<I: Sync, T: Send>(
    items: &[I],
    f: impl Fn(&I) -> T + Sync + Send,
) -> Vec<T> {
    use rayon::prelude::*;
    if cores().min(items.len()) <= 1 {
        return items.iter().map(f).collect();
    }
    // One item per task: the items are big, uneven jobs (compressing a chunk).
    items.par_iter().with_max_len(1).map(f).collect()
}

/// Fallible `f` over `items` on `threads` threads taking the next item as they
/// become free (for jobs that mostly wait on the filesystem, where more threads
/// than cores pay); results in order. The first failure stops the other threads
/// from starting new items and is returned.
pub(crate) fn try_map<I: Sync, T: Send, E: Send>(
    items: &[I],
    threads: usize,
    f: impl Fn(&I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E> {
    // One slot per item, filled in place (no per-thread lists to merge).
    let slots: Vec<std::sync::Mutex<Option<T>>> =
        items.iter().map(|_| Default::default()).collect();
    each(items, threads, |i, item| {
        let done = f(item)?;
        *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
        Ok(())
    })?;
    Ok(slots
        .into_iter()
        .map(|s| {
            let s = s.into_inner().unwrap_or_else(|p| p.into_inner());
            s.expect("every item ran")
        })
        .collect())
}

/// [`try_map`] for jobs without a result: nothing is kept per item.
pub(crate) fn try_for_each<I: Sync, E: Send>(
    items: &[I],
    threads: usize,
    f: impl Fn(&I) -> Result<(), E> + Sync,
) -> Result<(), E> {
    each(items, threads, |_, item| f(item))
}

/// `f(index, item)` over `items` on `threads` threads, each taking the next
/// item when free; after a failure no new item is started, and the failure of
/// the lowest index is returned.
fn each<I: Sync, E: Send>(
    items: &[I],
    threads: usize,
    f: impl Fn(usize, &I) -> Result<(), E> + Sync,
) -> Result<(), E> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = threads.clamp(1, items.len().max(1));
    if threads <= 1 {
        return items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| f(i, item));
    }
    let next = AtomicUsize::new(0);
    let failed: Mutex<Option<(usize, E)>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if let Err(e) = f(i, item) {
                        next.store(items.len(), Ordering::Relaxed);
                        let mut first = failed.lock().unwrap_or_else(|p| p.into_inner());
                        if first.as_ref().is_none_or(|(j, _)| i < *j) {
                            *first = Some((i, e));
                        }
                        break;
                    }
                }
            });
        }
    });
    match failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// One thread per core for the life of a scope, running `f` over batch after
/// batch of items ([`Workers::map`]): for many small batches, where starting
/// threads for each would cost more than the work.
pub(crate) struct Workers<I, T> {
    jobs: mpsc::SyncSender<(usize, I)>,
    results: mpsc::Receiver<(usize, std::thread::Result<T>)>,
}

impl<I: Send, T: Send> Workers<I, T> {
    /// Start the threads in `scope`; they stop when the `Workers` is dropped
    /// (which must happen before the scope ends).
    pub(crate) fn start<'scope, F>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        f: &'scope F,
    ) -> Self
    where
        F: Fn(I) -> T + Sync,
        I: 'scope,
        T: 'scope,
    {
        let (jobs, queue) = mpsc::sync_channel::<(usize, I)>(cores());
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        let (done, results) = mpsc::channel();
        for _ in 0..cores() {
            let (queue, done) = (queue.clone(), done.clone());
            scope.spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job.
                    let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok((i, item)) = job else { break };
                    // A panic goes to the caller of `map` (which would wait
                    // for the result forever otherwise).
                    let t = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(item)));
                    if done.send((i, t)).is_err() {
                        break;
                    }
                }
            });
        }
        Workers { jobs, results }
    }

    /// `f` over `items`, results in order. A panic of `f` is resumed here.
    pub(crate) fn map(&self, items: Vec<I>) -> Vec<T> {
        let n = items.len();
        let mut out: Vec<Option<std::thread::Result<T>>> = (0..n).map(|_| None).collect();
        let mut got = 0;
        for job in items.into_iter().enumerate() {
            // Take what is done while queueing, so that no side waits on the other.
            while let Ok((i, t)) = self.results.try_recv() {
                out[i] = Some(t);
                got += 1;
            }
            self.jobs.send(job).expect("worker threads");
        }
        while got < n {
            let (i, t) = self.results.recv().expect("worker threads");
            out[i] = Some(t);
            got += 1;
        }
        let out = out.into_iter().map(|t| t.expect("every item ran"));
        out.map(|t| t.unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_map_keeps_order_and_stops_on_failure() {
        let items: Vec<u32> = (0..100).collect();
        let ok: Result<Vec<u32>, String> = try_map(&items, 8, |i| Ok(i * 2));
        assert_eq!(ok.unwrap(), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        let err = try_map(&items, 4, |i| {
            if *i == 3 || *i == 60 {
                Err(format!("bad {i}"))
            } else {
                Ok(*i)
            }
        });
        // The first failure in item order, whichever thread saw it.
        assert_eq!(err.unwrap_err(), "bad 3");
    }

    #[test]
    fn try_for_each_runs_every_item_once_and_stops_on_failure() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let items: Vec<usize> = (0..500).collect();
        let seen: Vec<AtomicUsize> = items.iter().map(|_| AtomicUsize::new(0)).collect();
        try_for_each(&items, 8, |&i| {
            seen[i].fetch_add(1, Ordering::Relaxed);
            Ok::<(), String>(())
        })
        .unwrap();
        assert!(seen.iter().all(|n| n.load(Ordering::Relaxed) == 1));
        let ran = AtomicUsize::new(0);
        let err = try_for_each(&items, 4, |&i| {
            ran.fetch_add(1, Ordering::Relaxed);
            if i == 7 {
                return Err(format!("bad {i}"));
            }
            // Slow enough that the failure is seen long before the end.
            std::thread::sleep(std::time::Duration::from_millis(1));
            Ok(())
        });
        assert_eq!(err.unwrap_err(), "bad 7");
        assert!(ran.load(Ordering::Relaxed) < items.len());
    }

    #[test]
    fn workers_map_batch_after_batch_in_order() {
        let square = |i: usize| i * i;
        std::thread::scope(|s| {
            let workers = Workers::start(s, &square);
            for n in [0, 1, 7, 100] {
                let want: Vec<usize> = (0..n).map(square).collect();
                assert_eq!(workers.map((0..n).collect()), want);
            }
        });
        // A panic in a job reaches the caller instead of leaving it waiting.
        let odd = |i: usize| if i % 2 == 1 { panic!("odd") } else { i };
        let caught = std::panic::catch_unwind(|| {
            std::thread::scope(|s| Workers::start(s, &odd).map(vec![0, 1, 2]))
        });
        assert!(caught.is_err());
    }
}
