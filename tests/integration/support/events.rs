//! Reading the event log over HTTP and checking it against the payment it records.
use serde_json::Value;

use super::app::TestApp;

impl TestApp {
    /// `GET {path}` (a path with its query) with the token.
    pub async fn get_path(&self, path: &str) -> reqwest::Response {
        self.authed(self.http.get(format!("{}{path}", self.url))).send().await.unwrap()
    }

    /// Every event a list route answers (`/payments/{id}/events`, `/events?...`), pages of
    /// `limit`, following `NextCursor` to the end.
    pub async fn all_events(&self, path: &str, limit: u32) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut events = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut page_path = format!("{path}{sep}limit={limit}");
            if let Some(c) = &cursor {
                page_path.push_str(&format!("&cursor={c}"));
            }
            let resp = self.get_path(&page_path).await;
            assert_eq!(resp.status(), 200, "GET {page_path}");
            let page: Value = resp.json().await.unwrap();
            let got = page["Events"].as_array().expect("Events").clone();
            assert!(got.len() <= limit as usize);
            events.extend(got);
            match page["NextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return events,
            }
        }
    }

    /// The payment's audit trail, checked against the payment as it is now (`check_trail`).
    pub async fn checked_trail(&self, payment: &Value) -> Vec<Value> {
        let id = payment["PaymentID"].as_str().unwrap();
        let trail = self.all_events(&format!("/payments/{id}/events"), 3).await;
        check_trail(payment, &trail);
        trail
    }
}

fn final_type(kind: &str, status: &str) -> String {
    format!("{kind}.{}", status.to_ascii_lowercase())
}

/// What every payment's trail must be, whatever crashed or ran twice: versions 1, 2, 3, ...
/// up to the payment's `Version`; each event's `Data` at that version; the last one's `Data`
/// the payment as it is; the payment's own events created, processing, then its final state;
/// each refund's created, perhaps processing, then its final state; no card number anywhere.
pub fn check_trail(payment: &Value, trail: &[Value]) {
    let id = payment["PaymentID"].as_str().unwrap();
    let versions: Vec<u64> = trail.iter().map(|e| e["Version"].as_u64().unwrap()).collect();
    let want: Vec<u64> = (1..=payment["Version"].as_u64().unwrap()).collect();
    assert_eq!(versions, want, "{id}: consecutive versions up to the payment's");
    for e in trail {
        assert_eq!(e["Data"]["Version"], e["Version"], "{id}: data at the event's version");
        assert_eq!(e["PaymentID"], id);
        assert!(!e.to_string().contains("CardNumber"), "no card data in an event");
    }
    assert_eq!(trail.last().map(|e| &e["Data"]), Some(payment), "{id}: the last event shows the payment as it is");
    let own: Vec<&str> =
        trail.iter().map(|e| e["Type"].as_str().unwrap()).filter(|t| t.starts_with("payment.")).collect();
    let status = payment["Status"].as_str().unwrap();
    let mut expected = vec!["payment.created".to_owned()];
    if status != "PENDING" {
        expected.push("payment.processing".to_owned());
    }
    if !matches!(status, "PENDING" | "PROCESSING") {
        expected.push(final_type("payment", status));
    }
    assert_eq!(own, expected, "{id}: the payment's own events");
    for r in payment["Refunds"].as_array().unwrap() {
        let rid = r["RefundID"].as_str().unwrap();
        let mine: Vec<&str> =
            trail.iter().filter(|e| e["RefundID"].as_str() == Some(rid)).map(|e| e["Type"].as_str().unwrap()).collect();
        let status = r["Status"].as_str().unwrap();
        let fin = final_type("refund", status);
        let ok = match mine.as_slice() {
            ["refund.created"] => status == "PENDING",
            ["refund.created", "refund.processing"] => status == "PROCESSING",
            ["refund.created", last] => *last == fin && status == "FAILED",
            ["refund.created", "refund.processing", last] => *last == fin,
            _ => false,
        };
        assert!(ok, "{id}: refund {rid} ended {status} with events {mine:?}");
    }
}
