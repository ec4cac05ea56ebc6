//! What `/proc/<pid>/stat` says of a process, for the tests that check which processes a
//! stopped service or tool left behind.

/// A process as `/proc/<pid>/stat` shows it. Its start time tells it from a later process that
/// got the same pid once it was reaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Stat {
    pub pid: u32,
    pub name: String,
    pub parent: u32,
    pub group: u32,
    pub started: u64,
    /// Exited, and only waiting to be reaped.
    pub zombie: bool,
}

impl Stat {
    /// Whether this very process (not a later one with its pid) still runs.
    pub fn running(&self) -> bool {
        stat(self.pid).is_some_and(|now| now.started == self.started && !now.zombie)
    }
}

pub fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so split after its
    // last `)`. After it: state is field 3 of the line, ppid 4, pgrp 5, starttime 22.
    let (head, tail) = text.rsplit_once(')')?;
    let name = head.split_once('(')?.1.to_owned();
    let fields: Vec<&str> = tail.split_whitespace().collect();
    Some(Stat {
        pid,
        name,
        zombie: *fields.first()? == "Z",
        parent: fields.get(1)?.parse().ok()?,
        group: fields.get(2)?.parse().ok()?,
        started: fields.get(19)?.parse().ok()?,
    })
}

/// Every process this test can see.
pub fn all() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).filter_map(stat).collect()
}

/// Whether `pid` runs: it exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|s| !s.zombie)
}
