//! The emulator's pauses: its garbage collections over 100 ms, which
//! `localstack/python/sitecustomize.py` logs (`emulator gc: generation 2 collection took 106 ms`).
//! Every process of a run waits on the emulator, so a pause stalls them all at once and shows in
//! every latency and ratio of the run; the bench says how many there were, so a run's figures can
//! be read with that in mind (`EMULATOR_LOG`, which `localstack/with-emulator.sh` exports).
use std::path::Path;

/// The pauses logged: how many, and the longest, ms.
#[derive(Debug, Default, PartialEq)]
pub struct Pauses {
    pub count: usize,
    pub longest_ms: u64,
}

/// The pauses in the emulator's log `text`.
pub fn parse(text: &str) -> Pauses {
    let took = |line: &str| -> Option<u64> {
        let rest = line.split("emulator gc: ").nth(1)?;
        let ms = rest.split(" collection took ").nth(1)?.split(" ms").next()?;
        ms.trim().parse().ok()
    };
    text.lines()
        .filter_map(took)
        .fold(Pauses::default(), |p, ms| Pauses { count: p.count + 1, longest_ms: p.longest_ms.max(ms) })
}

/// The line to print at the end of a run, or `None` when the log cannot be read (no
/// `EMULATOR_LOG`, or an emulator started some other way).
pub fn summary(log: Option<&Path>) -> Option<String> {
    let text = std::fs::read_to_string(log?).ok()?;
    let p = parse(&text);
    Some(if p.count == 0 {
        "bench: the emulator logged no garbage collection over 100 ms".to_owned()
    } else {
        format!(
            "bench: the emulator paused {} time(s) over 100 ms for garbage collection, the longest {} ms: \
             every process of the run stalled meanwhile (emulator.log)",
            p.count, p.longest_ms
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_logged_collections_and_the_longest() {
        let log = "2026-12-05 03:27:37 INFO [ministack] started\n\
                   emulator gc: generation 2 collection took 106 ms; its survivors frozen\n\
                   GET /health 200\n\
                   emulator gc: generation 1 collection took 2232 ms\n";
        assert_eq!(parse(log), Pauses { count: 2, longest_ms: 2232 });
        assert_eq!(parse("nothing here\n"), Pauses::default());
    }

    #[test]
    fn no_log_no_summary() {
        assert_eq!(summary(None), None);
        assert_eq!(summary(Some(Path::new("/nonexistent/emulator.log"))), None);
    }
}
