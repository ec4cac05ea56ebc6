//! What one AWS request costs a plain SDK client (the floor's), by the rate it is made at. A
//! client that makes few requests a second wakes for each one (its runtime parks and unparks
//! between them); one that makes many shares its wake-ups: the bench measured 854 µs per floor
//! payment at concurrency 1 and 660 at 64. A process is priced at the floor level whose rate of
//! requests is nearest its own, among the levels where the floor's charge jobs each went in a
//! call of their own (`floor::Floor::requests`): where they shared calls, the floor's CPU per
//! request carries the work of several messages per send (each entry encoded, handed over and
//! answered), which would overprice the workers' requests.
use super::report::{ClientCpu, Comparison};

pub struct Prices {
    /// (requests per second, µs per request) of each floor level.
    levels: Vec<(f64, f64)>,
}

impl Prices {
    pub fn new(comparison: &[Comparison], client_cpu: &[ClientCpu]) -> Self {
        let unbatched = super::floor::calls_per_payment() as f64;
        let levels = client_cpu
            .iter()
            .filter_map(|c| {
                let calls = c.floor_requests_per_payment.unwrap_or(unbatched);
                if calls < unbatched - 0.05 {
                    return None;
                }
                let rate = comparison.iter().find(|l| l.concurrency == c.concurrency)?.floor_per_sec * calls;
                let price = c.floor_us_per_payment? / calls;
                (rate > 0.0 && price > 0.0).then_some((rate, price))
            })
            .collect();
        Self { levels }
    }

    /// The mean price per request over the levels kept.
    pub fn mean(&self) -> Option<f64> {
        let n = self.levels.len();
        (n > 0).then(|| super::stats::round(self.levels.iter().map(|l| l.1).sum::<f64>() / n as f64, 1))
    }

    /// The price per request at the level whose rate is nearest `rate` requests a second (by
    /// ratio: 100/s is as far from 50/s as from 200/s).
    pub fn at(&self, rate: f64) -> Option<f64> {
        if rate <= 0.0 {
            return None;
        }
        let distance = |r: f64| (r / rate).ln().abs();
        self.levels.iter().min_by(|a, b| distance(a.0).total_cmp(&distance(b.0))).map(|l| l.1)
    }
}

/// A process's CPU per unit over what its `requests` per unit cost at `price` each.
pub fn ratio(cpu: Option<f64>, requests: Option<f64>, price: Option<f64>) -> Option<f64> {
    let (cpu, requests, price) = (cpu?, requests?, price?);
    (requests > 0.0 && price > 0.0).then(|| super::stats::round(cpu / (requests * price), 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(c: usize, floor_per_sec: f64) -> Comparison {
        Comparison {
            concurrency: c,
            api_per_sec: 0.0,
            floor_per_sec,
            api_vs_floor: None,
            median_slice_ratio: None,
            api_p99_ms: None,
            floor_p99_ms: None,
            added_p50_ms: None,
            added_p99_ms: None,
        }
    }

    #[test]
    fn a_rate_is_priced_at_the_nearest_level() {
        let cmp = [level(1, 250.0), level(64, 350.0)];
        let cpu = [
            ClientCpu {
                concurrency: 1,
                floor_us_per_payment: Some(860.0),
                floor_requests_per_payment: None,
                load_us_per_payment: None,
            },
            ClientCpu {
                concurrency: 64,
                floor_us_per_payment: Some(660.0),
                floor_requests_per_payment: Some(1.5),
                load_us_per_payment: None,
            },
        ];
        let prices = Prices::new(&cmp, &cpu);
        // 500 requests a second at 430 µs each at the first level (two per payment, uncounted);
        // the second is left out: a payment took 1.5 requests there (its sends shared calls).
        assert_eq!(prices.at(300.0), Some(430.0));
        assert_eq!(prices.at(600.0), Some(430.0));
        assert_eq!(prices.mean(), Some(430.0));
        assert_eq!(prices.at(0.0), None);
    }

    #[test]
    fn a_ratio_needs_all_three_figures() {
        assert_eq!(ratio(Some(1200.0), Some(3.0), Some(400.0)), Some(1.0));
        assert_eq!(ratio(Some(1200.0), None, Some(400.0)), None);
    }
}
