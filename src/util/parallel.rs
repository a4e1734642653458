//! Running small pure jobs on every core.

/// The cores this process may use (asked once: the standard library reads the
/// cgroup files on every call).
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `f` over `items` on up to one thread per core, results in order. Small jobs
/// (one item) run on the calling thread: thread start-up would cost more.
pub fn parallel_map<I: Sync, T: Send>(items: &[I], f: impl Fn(&I) -> T + Sync) -> Vec<T> {
    let threads = cores().min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| s.spawn(move || part.iter().map(f).collect::<Vec<T>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    })
}

/// Fallible `f` over `items` on `threads` threads taking the next item as they
/// become free (for jobs that mostly wait on the filesystem, where more threads
/// than cores pay); results in order. The first failure stops the other threads
/// from starting new items and is returned.
pub fn try_map<I: Sync, T: Send, E: Send>(
    items: &[I],
    threads: usize,
    f: impl Fn(&I) -> Result<T, E> + Sync,
) -> Result<Vec<T>, E> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = threads.clamp(1, items.len().max(1));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let (next, f) = (&next, &f);
    let mut done: Vec<(usize, Result<T, E>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let r = f(item);
                        let failed = r.is_err();
                        done.push((i, r));
                        if failed {
                            next.store(items.len(), Ordering::Relaxed);
                        }
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker thread"))
            .collect()
    });
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
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
}
