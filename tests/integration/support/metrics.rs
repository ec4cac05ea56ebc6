//! Reading a process's Prometheus metrics (`GET /metrics` on its admin or worker port).

/// The metrics text of the process whose metrics answer on `port`.
pub async fn scrape(port: u16) -> String {
    let resp = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.expect("GET /metrics");
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain"), "{kind}");
    resp.text().await.expect("metrics text")
}

/// The value of the first series of `name` whose labels include every one of `labels`.
pub fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (series, value) = l.rsplit_once(' ')?;
        let matches = (series == name || series.starts_with(&format!("{name}{{")))
            && labels.iter().all(|want| series.contains(want));
        matches.then(|| value.parse().ok()).flatten()
    })
}
