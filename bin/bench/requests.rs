//! AWS requests per phase: the diff of every process's `aws_requests_total` over the phase, by
//! role and operation, divided by the payments (or refunds) the phase made.
use std::collections::BTreeMap;

use serde::Serialize;

use super::procs::Role;
use super::scrape;
#[cfg(test)]
use super::scrape::Counts;
use super::stats::round;
use super::system::Snapshot;

#[derive(Debug, Clone, Serialize)]
pub struct OpRow {
    pub role: Role,
    pub service: String,
    pub operation: String,
    pub count: f64,
    pub per_unit: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AwsPhase {
    pub phase: String,
    /// What `units` counts: payments or refunds.
    pub unit: &'static str,
    pub units: u64,
    /// Every process exposed the counter before and after.
    pub available: bool,
    /// Processes without the counter (the phase then reports n/a).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    pub total: Option<f64>,
    pub per_unit: Option<f64>,
    /// Requests per unit by role.
    pub by_role: BTreeMap<Role, f64>,
    pub operations: Vec<OpRow>,
}

fn per(count: f64, units: u64) -> Option<f64> {
    (units > 0).then(|| round(count / units as f64, 2))
}

impl AwsPhase {
    fn from_ops(
        phase: &str,
        unit: &'static str,
        units: u64,
        missing: Vec<String>,
        ops: BTreeMap<(Role, String, String), f64>,
    ) -> Self {
        let available = missing.is_empty() && !ops.is_empty();
        let total: f64 = ops.values().sum();
        let mut by_role: BTreeMap<Role, f64> = BTreeMap::new();
        for ((role, _, _), n) in &ops {
            *by_role.entry(*role).or_default() += n;
        }
        let by_role = by_role.into_iter().filter_map(|(r, n)| per(n, units).map(|p| (r, p))).collect();
        let operations = ops
            .into_iter()
            .map(|((role, service, operation), count)| OpRow {
                role,
                service,
                operation,
                count,
                per_unit: per(count, units),
            })
            .collect();
        Self {
            phase: phase.to_owned(),
            unit,
            units,
            available,
            missing,
            total: available.then_some(total),
            per_unit: if available { per(total, units) } else { None },
            by_role: if available { by_role } else { BTreeMap::new() },
            operations: if available { operations } else { Vec::new() },
        }
    }

    /// Requests per unit of the given roles (`None` when not available).
    pub fn per_unit_of(&self, roles: &[Role]) -> Option<f64> {
        if !self.available {
            return None;
        }
        let count: f64 = self.operations.iter().filter(|o| roles.contains(&o.role)).map(|o| o.count).sum();
        per(count, self.units)
    }
}

/// The phase between two snapshots of the same processes.
pub fn phase(name: &str, unit: &'static str, units: u64, before: &Snapshot, after: &Snapshot) -> AwsPhase {
    let mut missing = Vec::new();
    let mut ops: BTreeMap<(Role, String, String), f64> = BTreeMap::new();
    for (proc_name, role, after_counts) in after {
        let before_counts = before.iter().find(|(n, _, _)| n == proc_name).and_then(|(_, _, c)| c.as_ref());
        match (before_counts, after_counts) {
            (Some(b), Some(a)) => {
                for ((service, op), n) in scrape::diff(b, a) {
                    *ops.entry((*role, service, op)).or_default() += n;
                }
            }
            _ => missing.push(proc_name.clone()),
        }
    }
    AwsPhase::from_ops(name, unit, units, missing, ops)
}

/// Several phases as one (e.g. the pipeline runs together).
pub fn combine(name: &str, phases: &[&AwsPhase]) -> AwsPhase {
    let units = phases.iter().map(|p| p.units).sum();
    let mut missing: Vec<String> = phases.iter().flat_map(|p| p.missing.clone()).collect();
    if phases.iter().any(|p| !p.available) && missing.is_empty() {
        missing.push("(no counter)".into());
    }
    let mut ops: BTreeMap<(Role, String, String), f64> = BTreeMap::new();
    for o in phases.iter().flat_map(|p| &p.operations) {
        *ops.entry((o.role, o.service.clone(), o.operation.clone())).or_default() += o.count;
    }
    AwsPhase::from_ops(name, phases.first().map_or("payment", |p| p.unit), units, missing, ops)
}

/// Whether the api's requests per payment in `phase` are exactly `calls` (`None`: not counted);
/// a batch operation's count is a most (messages sent together share one). Operations under
/// 0.05 per payment (background work) are left out.
pub fn api_matches(phase: &AwsPhase, calls: &[(&str, &str, u32)]) -> Option<bool> {
    if !phase.available {
        return None;
    }
    let api: Vec<&OpRow> =
        phase.operations.iter().filter(|o| o.role == Role::Api && o.per_unit.unwrap_or(0.0) >= 0.05).collect();
    let made = |s: &str, op: &str| api.iter().find(|o| o.service == s && o.operation == op).and_then(|o| o.per_unit);
    let fits = |op: &str, p: f64, n: f64| if op.ends_with("Batch") { p < n + 0.05 } else { (p - n).abs() < 0.05 };
    let same = calls.iter().all(|(s, op, n)| made(s, op).is_some_and(|p| fits(op, p, f64::from(*n))));
    Some(api.len() == calls.len() && same)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(&str, &str, f64)]) -> Counts {
        pairs.iter().map(|(s, o, n)| (((*s).to_owned(), (*o).to_owned()), *n)).collect()
    }

    #[test]
    fn diffs_each_process_and_divides_by_units() {
        let before: Snapshot = vec![
            ("api".into(), Role::Api, Some(counts(&[("dynamodb", "TransactWriteItems", 5.0)]))),
            ("pw".into(), Role::PaymentWorker, Some(counts(&[("sqs", "ReceiveMessage", 3.0)]))),
        ];
        let after: Snapshot = vec![
            (
                "api".into(),
                Role::Api,
                Some(counts(&[("dynamodb", "TransactWriteItems", 15.0), ("sqs", "SendMessage", 10.0)])),
            ),
            (
                "pw".into(),
                Role::PaymentWorker,
                Some(counts(&[("sqs", "ReceiveMessage", 8.0), ("dynamodb", "UpdateItem", 20.0)])),
            ),
        ];
        let p = phase("pipeline", "payment", 10, &before, &after);
        assert!(p.available);
        assert_eq!(p.total, Some(45.0));
        assert_eq!(p.per_unit, Some(4.5));
        assert_eq!(p.by_role[&Role::Api], 2.0);
        assert_eq!(p.per_unit_of(&[Role::PaymentWorker]), Some(2.5));
        assert_eq!(api_matches(&p, &[("dynamodb", "TransactWriteItems", 1), ("sqs", "SendMessage", 1)]), Some(true));
        assert_eq!(api_matches(&p, &[("dynamodb", "TransactWriteItems", 1), ("sqs", "SendMessage", 2)]), Some(false));
        assert_eq!(api_matches(&p, &[("dynamodb", "TransactWriteItems", 1)]), Some(false));
        let both = combine("all", &[&p, &p]);
        assert_eq!((both.units, both.per_unit), (20, Some(4.5)));
    }

    #[test]
    fn a_batch_operation_matches_up_to_its_count() {
        let before: Snapshot = vec![("api".into(), Role::Api, Some(counts(&[])))];
        let calls = [("dynamodb", "TransactWriteItems", 1), ("sqs", "SendMessageBatch", 1)];
        let after = |sends: f64| -> Snapshot {
            let ops = [("dynamodb", "TransactWriteItems", 10.0), ("sqs", "SendMessageBatch", sends)];
            vec![("api".into(), Role::Api, Some(counts(&ops)))]
        };
        // Ten payments whose charge jobs went in four calls, or each in its own.
        assert_eq!(api_matches(&phase("p", "payment", 10, &before, &after(4.0)), &calls), Some(true));
        assert_eq!(api_matches(&phase("p", "payment", 10, &before, &after(10.0)), &calls), Some(true));
        assert_eq!(api_matches(&phase("p", "payment", 10, &before, &after(15.0)), &calls), Some(false));
    }

    #[test]
    fn a_process_without_the_counter_makes_the_phase_not_available() {
        let before: Snapshot = vec![("api".into(), Role::Api, None)];
        let after: Snapshot = vec![("api".into(), Role::Api, Some(counts(&[("sqs", "SendMessage", 1.0)])))];
        let p = phase("x", "payment", 1, &before, &after);
        assert!(!p.available);
        assert_eq!((p.per_unit, p.missing.clone()), (None, vec!["api".to_owned()]));
        assert_eq!(combine("y", &[&p]).per_unit, None);
    }
}
