//! CPU per unit of work, from the kernel's own accounting: user + system time of a process
//! (`/proc/<pid>/stat`, fields 14 and 15, in clock ticks of 1/100 s: Linux's USER_HZ, the same
//! on every architecture for /proc) over a phase, divided by what the phase did.
use std::collections::BTreeMap;

use serde::Serialize;

use super::procs::Role;
use super::stats::round;

/// Microseconds per clock tick in /proc (USER_HZ = 100).
const US_PER_TICK: u64 = 10_000;

/// User + system CPU time of process `pid` so far, in µs; `None` once it is gone.
pub fn cpu_us(pid: u32) -> Option<u64> {
    parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// The same for this process (the bench itself, as the floor's client).
pub fn own_cpu_us() -> Option<u64> {
    parse(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Fields after the command name (which may hold spaces and parentheses): state is the first,
/// utime the 12th and stime the 13th.
fn parse(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(") ")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks * US_PER_TICK)
}

/// Each process's CPU so far: its name, its role and the µs.
pub type CpuSnapshot = Vec<(String, Role, Option<u64>)>;

/// CPU per unit over one phase, by role (the processes of one role summed).
#[derive(Debug, Clone, Serialize)]
pub struct CpuPhase {
    pub phase: String,
    pub unit: &'static str,
    pub units: u64,
    /// µs of CPU per unit, by role.
    pub us_per_unit: BTreeMap<Role, f64>,
    /// The emulator's CPU per AWS call the phase made (set by `with_calls`): where it nears the
    /// time a call takes, the emulator is the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emulator_us_per_call: Option<f64>,
}

impl CpuPhase {
    /// Notes how many AWS calls the phase made, for the emulator's CPU per call.
    pub fn with_calls(mut self, calls: Option<f64>) -> Self {
        let used = self.us_per_unit.get(&Role::Emulator).map(|per_unit| per_unit * self.units as f64);
        self.emulator_us_per_call = used.zip(calls.filter(|c| *c > 0.0)).map(|(us, c)| round(us / c, 1));
        self
    }
}

pub fn phase(name: &str, unit: &'static str, units: u64, before: &CpuSnapshot, after: &CpuSnapshot) -> CpuPhase {
    let mut used: BTreeMap<Role, u64> = BTreeMap::new();
    for (proc_name, role, end) in after {
        let start = before.iter().find(|(n, _, _)| n == proc_name).and_then(|(_, _, c)| *c);
        if let (Some(start), Some(end)) = (start, end) {
            *used.entry(*role).or_default() += end.saturating_sub(start);
        }
    }
    let us_per_unit =
        used.into_iter().filter(|_| units > 0).map(|(r, us)| (r, round(us as f64 / units as f64, 1))).collect();
    CpuPhase { phase: name.to_owned(), unit, units, us_per_unit, emulator_us_per_call: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_ticks_are_read_after_a_command_name_with_spaces() {
        let stat = "4242 (payment (worker)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(parse(stat), Some(300 * US_PER_TICK));
        assert_eq!(parse("garbage"), None);
        assert!(own_cpu_us().is_some(), "this process's own stat is readable");
    }

    #[test]
    fn a_phase_divides_each_roles_cpu_by_its_units() {
        let before = vec![("api".into(), Role::Api, Some(1_000)), ("w".into(), Role::PaymentWorker, Some(0))];
        let after = vec![
            ("api".into(), Role::Api, Some(201_000)),
            ("w".into(), Role::PaymentWorker, Some(50_000)),
            ("new".into(), Role::PaymentWorker, Some(9_999)),
        ];
        let p = phase("x", "payment", 100, &before, &after);
        assert_eq!(p.us_per_unit[&Role::Api], 2_000.0);
        assert_eq!(p.us_per_unit[&Role::PaymentWorker], 500.0, "a process not seen before is left out");
    }
}
