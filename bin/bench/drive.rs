//! The load driver: `concurrency` tasks call one operation in a loop, for a duration or until a
//! number of calls is made, timing each call. The API levels and the floor share it.
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What `concurrency` tasks did: the latency (µs) and value of every success, the failures by kind.
pub struct Outcome<T> {
    pub successes: Vec<(usize, u64, T)>,
    pub errors: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl<T> Outcome<T> {
    pub fn latencies(&self) -> Vec<u64> {
        self.successes.iter().map(|(_, us, _)| *us).collect()
    }

    pub fn error_kinds(&self) -> BTreeMap<String, u64> {
        self.errors.clone()
    }

    pub fn seconds(&self) -> f64 {
        self.elapsed.as_secs_f64()
    }
}

/// When a run stops.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    Elapsed(Duration),
    Calls(usize),
}

/// Runs `op(i)` from `concurrency` tasks (`i` numbers the calls from 0) until `until`.
pub async fn drive<T, F, Fut>(concurrency: usize, until: Until, op: F) -> Outcome<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (Arc::clone(&op), Arc::clone(&next));
        tasks.spawn(async move {
            let mut ok = Vec::new();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                match until {
                    Until::Elapsed(d) if start.elapsed() >= d => break,
                    Until::Calls(n) if i >= n => break,
                    _ => {}
                }
                let t0 = Instant::now();
                match op(i).await {
                    Ok(v) => ok.push((i, t0.elapsed().as_micros() as u64, v)),
                    Err(kind) => *errors.entry(kind).or_default() += 1,
                }
            }
            (ok, errors)
        });
    }
    let mut out = Outcome { successes: Vec::new(), errors: BTreeMap::new(), elapsed: Duration::ZERO };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((ok, errors)) => {
                out.successes.extend(ok);
                for (k, n) in errors {
                    *out.errors.entry(k).or_default() += n;
                }
            }
            Err(e) => *out.errors.entry(format!("task failed: {e}")).or_default() += 1,
        }
    }
    out.elapsed = start.elapsed();
    out.successes.sort_by_key(|(i, _, _)| *i);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_counted_run_makes_each_call_once_and_sorts_failures() {
        let out =
            drive(3, Until::Calls(10), |i| async move { if i % 5 == 0 { Err("odd".to_owned()) } else { Ok(i) } }).await;
        let values: Vec<usize> = out.successes.iter().map(|(_, _, v)| *v).collect();
        assert_eq!(values, vec![1, 2, 3, 4, 6, 7, 8, 9]);
        assert_eq!(out.error_kinds(), BTreeMap::from([("odd".to_owned(), 2)]));
    }

    #[tokio::test]
    async fn a_timed_run_stops() {
        let out = drive(2, Until::Elapsed(Duration::from_millis(50)), |_| async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok::<_, String>(())
        })
        .await;
        assert!(!out.successes.is_empty() && out.elapsed < Duration::from_secs(1));
    }
}
