//! A real Chromium (Debian's `chromium`), driven over WebDriver by `chromedriver` (Debian's
//! `chromium-driver`) with `fantoccini`: both installed by `make browser` when missing. The
//! driver is a child process on a free port, stopped by its pid when the test ends; the browser
//! runs headless with a profile of its own and no background networking (this machine's network
//! is closed).
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
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

/// The page's controls a person can use (links, buttons, fields), each marked with its index in
/// `data-kb` so that Tab's progress can be followed; returns how many.
const MARK_CONTROLS: &str =
    "const all = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
    .filter(e => !e.disabled && e.getClientRects().length > 0);
all.forEach((e, i) => e.setAttribute('data-kb', String(i)));
return all.length;";

/// Every element with text of its own whose contrast with the background it sits on is under
/// WCAG 2 AA (4.5:1; 3:1 for large text), as "tag: text (ratio)". Colours are taken as solid
/// (alpha, opacity and background images are not blended: the dashboard's CSS has none), and
/// what is inside a form field (typed values, placeholders) is not text of an element.
const LOW_CONTRAST: &str = "const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
const lum = c => { const v = rgb(c).slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
const bg = e => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor; const p = rgb(c);
    if (p.length === 3 || (p.length === 4 && p[3] > 0)) return c; } return 'rgb(255, 255, 255)'; };
const low = [];
for (const e of document.body.querySelectorAll('*')) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || e.getClientRects().length === 0) continue;
    const s = getComputedStyle(e);
    const [a, b] = [lum(s.color), lum(bg(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(s.fontSize), bold = parseInt(s.fontWeight, 10) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) low.push(e.tagName + ': ' + e.textContent.trim().slice(0, 40) + ' (' + ratio.toFixed(2) + ')');
}
return low;";

impl Browser {
    /// Presses Tab through the page from its top, as a keyboard user would, and returns the
    /// controls it never reached (their HTML, cut short).
    pub async fn unreached_by_tab(&self) -> Vec<String> {
        let count = self.client.execute(MARK_CONTROLS, vec![]).await.unwrap().as_u64().unwrap();
        let tab = Key::Tab.chars().next().unwrap();
        let mut reached = std::collections::BTreeSet::new();
        // A control may hold more than one stop (a date field's day, month and year; a table
        // that scrolls is a stop of its own): press on until every control was reached, or
        // three times as often as there are controls.
        for _ in 0..3 * count + 10 {
            if reached.len() as u64 == count {
                break;
            }
            let press = KeyActions::new("keyboard".into())
                .then(KeyAction::Down { value: tab })
                .then(KeyAction::Up { value: tab });
            self.client.perform_actions(press).await.unwrap();
            let at =
                self.client.execute("return document.activeElement.getAttribute('data-kb')", vec![]).await.unwrap();
            reached.extend(at.as_str().and_then(|i| i.parse::<u64>().ok()));
        }
        let missed: Vec<u64> = (0..count).filter(|i| !reached.contains(i)).collect();
        let mut html = Vec::new();
        for i in missed {
            let script = format!("return document.querySelector('[data-kb=\"{i}\"]').outerHTML.slice(0, 120)");
            html.push(self.client.execute(&script, vec![]).await.unwrap().as_str().unwrap_or_default().to_owned());
        }
        html
    }

    /// Text on the page below WCAG 2 AA contrast, as the browser renders it.
    pub async fn low_contrast(&self) -> Vec<String> {
        let low = self.client.execute(LOW_CONTRAST, vec![]).await.unwrap();
        serde_json::from_value(low).unwrap()
    }
}

impl Browser {
    /// Ends the WebDriver session (Chromium exits); the driver is stopped by its pid on drop.
    pub async fn close(self) {
        let Self { client, _driver, .. } = self;
        client.close().await.expect("the session closes");
    }
}
