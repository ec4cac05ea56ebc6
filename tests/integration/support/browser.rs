//! A real Chromium (Debian's `chromium`), driven over WebDriver by `chromedriver` (Debian's
//! `chromium-driver`) with `fantoccini`: both installed by `make browser` when missing. The
//! driver is a child process on a free port, stopped by its pid when the test ends; the browser
//! runs headless with a profile of its own and no background networking (this machine's network
//! is closed).
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use payment_platform::testing::process::Child;
use serde_json::json;

use super::app::eventually;
use super::bank::{free_port, log_dir};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    pub client: Client,
    _driver: Child,
    /// Where screenshots go: `DASHBOARD_SCREENSHOTS` (`make screenshots`), else the test's own folder.
    shots: PathBuf,
}

impl Browser {
    pub async fn start(name: &str) -> Self {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(Path::new(bin).exists(), "{bin} is missing: run make browser");
        }
        let port = free_port();
        let log = log_dir().join(format!("{name}-chromedriver.log"));
        let mut driver = Child::spawn(Path::new(CHROMEDRIVER), &[&format!("--port={port}")], name, &log, &[], &[])
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        driver.wait_healthy(&format!("{url}/status"), Duration::from_secs(30)).await.expect("chromedriver answers");
        let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("chromium-{name}-{port}"));
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--disable-quic", "--window-size=1280,1500",
                         format!("--user-data-dir={}", profile.display())]
            }
        });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector).capabilities(caps).connect(&url).await.expect("a Chromium session");
        let shots = std::env::var("DASHBOARD_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("screenshots-{name}")));
        std::fs::create_dir_all(&shots).unwrap();
        Self { client, _driver: driver, shots }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn text(&self) -> String {
        self.client.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
    }

    /// Waits (polling with a deadline, no sleep) until the page's text contains `what`: the page
    /// reloads itself while a payment is not final.
    pub async fn until_text(&self, what: &str, within: Duration) -> String {
        eventually(within, &format!("the page to show {what:?}"), || async {
            let text = self.client.find(Locator::Css("body")).await.ok()?.text().await.ok()?;
            text.contains(what).then_some(text)
        })
        .await
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    }

    /// The session cookie's value (HttpOnly: not readable by a page, but by the driver).
    pub async fn session_cookie(&self) -> String {
        self.client.get_named_cookie("session").await.expect("signed in").value().to_owned()
    }

    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Browser {
    /// Ends the WebDriver session (Chromium exits); the driver is stopped by its pid on drop.
    pub async fn close(self) {
        let Self { client, _driver, .. } = self;
        client.close().await.expect("the session closes");
    }
}
