//! AWS requests, counted by the processes themselves: each serves Prometheus text at
//! `GET /metrics` with `aws_requests_total{aws_service="dynamodb"|"sqs",operation="<Operation>"}`
//! (every series also carries the global `service="<process>"` label, which is why the AWS service
//! has its own label name; a bare `service="dynamodb"` is read too). The bench scrapes every
//! process before and after a phase and diffs.
use std::collections::BTreeMap;
use std::time::Duration;

pub const METRIC: &str = "aws_requests_total";

/// Requests by (service, operation).
pub type Counts = BTreeMap<(String, String), f64>;

/// One sample line: metric name, labels, value. `None` for comments, blanks and bad lines.
pub fn parse_sample(line: &str) -> Option<(String, BTreeMap<String, String>, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some((name.to_owned(), labels, value))
}

/// `k="v",k2="v2"}` (after the opening brace): the labels and the text after the closing brace.
fn parse_labels(mut s: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start().trim_start_matches(',').trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_owned();
        s = s[eq + 1..].trim_start().strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key, value);
        s = &s[end + 1..];
    }
}

/// The `aws_requests_total` samples of a scrape, summed by (AWS service, operation) over any other
/// labels. `None` when the text has no such sample (the counter does not exist there yet).
pub fn aws_requests(text: &str) -> Option<Counts> {
    let mut counts = Counts::new();
    let mut seen = false;
    for (name, labels, value) in text.lines().filter_map(parse_sample) {
        if name != METRIC {
            continue;
        }
        seen = true;
        let label = |k: &str| labels.get(k).cloned();
        let service = label("aws_service").or_else(|| label("service")).unwrap_or_else(|| "?".into());
        *counts.entry((service, label("operation").unwrap_or_else(|| "?".into()))).or_default() += value;
    }
    seen.then_some(counts)
}

/// `after - before` by key (a key only in `after` counts from zero).
pub fn diff(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v != 0.0)
        .collect()
}

/// Scrapes `<base>/metrics`; `None` when it is not served or has no `aws_requests_total`.
pub async fn scrape(http: &reqwest::Client, base: &str) -> Option<Counts> {
    let resp = http.get(format!("{base}/metrics")).timeout(Duration::from_secs(5)).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    aws_requests(&resp.text().await.ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP aws_requests_total AWS requests made, by service and operation.
# TYPE aws_requests_total counter
aws_requests_total{service="dynamodb",operation="TransactWriteItems"} 120
aws_requests_total{operation="SendMessage",service="sqs"} 118 1700000000000
aws_requests_total{service="dynamodb",operation="UpdateItem",outcome="ok"} 100
aws_requests_total{service="api",aws_service="dynamodb",operation="UpdateItem",outcome="error"} 2
http_requests_total{path="/payments"} 5
aws_request_duration_seconds_bucket{service="sqs",le="+Inf"} 3
"#;

    fn key(s: &str, o: &str) -> (String, String) {
        (s.to_owned(), o.to_owned())
    }

    #[test]
    fn sums_the_counter_by_service_and_operation() {
        let c = aws_requests(TEXT).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[&key("dynamodb", "TransactWriteItems")], 120.0);
        assert_eq!(c[&key("sqs", "SendMessage")], 118.0);
        assert_eq!(c[&key("dynamodb", "UpdateItem")], 102.0);
    }

    #[test]
    fn absent_counter_is_none_not_zero() {
        assert_eq!(aws_requests("# TYPE aws_requests_total counter\nhttp_requests_total 3\n"), None);
        assert_eq!(aws_requests(""), None);
    }

    #[test]
    fn parses_escapes_spaces_and_specials() {
        let (name, labels, v) = parse_sample(r#"m{a="x\"y\\z", b = "n\nl",} +Inf"#).unwrap();
        assert_eq!(name, "m");
        assert_eq!(labels["a"], "x\"y\\z");
        assert_eq!(labels["b"], "n\nl");
        assert!(v.is_infinite());
        assert_eq!(parse_sample("plain 4.5e1").unwrap().2, 45.0);
        assert_eq!(parse_sample("broken{a=\"x\" 1"), None);
        assert_eq!(parse_sample("novalue"), None);
    }

    #[test]
    fn diffs() {
        let before = aws_requests(TEXT).unwrap();
        let mut after = before.clone();
        *after.get_mut(&key("sqs", "SendMessage")).unwrap() += 10.0;
        after.insert(key("sqs", "ReceiveMessage"), 4.0);
        let d = diff(&before, &after);
        assert_eq!(d.len(), 2);
        assert_eq!(d[&key("sqs", "SendMessage")], 10.0);
        assert_eq!(d[&key("sqs", "ReceiveMessage")], 4.0);
    }
}
