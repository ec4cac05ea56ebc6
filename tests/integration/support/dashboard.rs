//! The dashboard as a real process beside a `System`, and a plain HTTP client for it that keeps
//! its cookies (as a browser would, `Secure` ones included: the tests run on http://127.0.0.1),
//! for what a browser cannot show: the raw HTML, headers, forged and replayed forms.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};

use super::system::{Proc, System};

/// Starts the dashboard against `system`'s API, in development mode (the emulator), with `extra`
/// settings over those.
pub async fn start(system: &System, extra: &[(&str, &str)]) -> Proc {
    let mut env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", super::app::endpoint()),
        ("DASHBOARD_API_URL", format!("http://127.0.0.1:{}", system.api.port)),
        ("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut proc = Proc::spawn(env!("CARGO_BIN_EXE_dashboard"), &format!("{}-dashboard", system.name), &env);
    proc.wait_healthy().await;
    proc
}

/// An answer: status, headers and body.
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// The value of the field `name` inside the form that posts to `action`.
    pub fn field(&self, action: &str, name: &str) -> Option<String> {
        let form = &self.body[self.body.find(&format!("action=\"{action}\""))?..];
        let form = &form[..form.find("</form>")?];
        let at = form.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
        Some(form[at..at + form[at..].find('"')?].to_owned())
    }
}

/// A client of the dashboard with a cookie jar of its own. It follows no redirect by itself.
pub struct Visitor {
    pub base: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl Visitor {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .unwrap();
        Self { base: base.to_owned(), http, cookies: BTreeMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for set in headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()) {
            let pair = set.split(';').next().unwrap_or_default();
            let Some((name, value)) = pair.split_once('=') else { continue };
            if value.is_empty() || set.contains("Max-Age=0") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    async fn finish(&mut self, resp: reqwest::Response) -> Page {
        let (status, headers) = (resp.status(), resp.headers().clone());
        self.absorb(&headers);
        Page { status, headers, body: resp.text().await.unwrap() }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let resp = self.http.get(self.url(path)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.finish(resp).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let resp = self
            .http
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.finish(resp).await
    }

    /// The one-click sign-in of development mode, as a person clicks it.
    pub async fn sign_in_dev(&mut self) {
        let form = self.get("/sign-in").await;
        assert_eq!(form.status, 200, "{}", form.body);
        let csrf = form.field("/sign-in", "csrf").expect("the sign-in form's csrf");
        let signed = self.post("/sign-in", &[("csrf", &csrf), ("next", "")]).await;
        assert_eq!((signed.status, signed.location()), (StatusCode::SEE_OTHER, "/payments"), "{}", signed.body);
        assert!(self.cookies.contains_key("session"), "a session cookie: {:?}", self.cookies);
    }
}

/// Every page the tests saw, for the W3C Nu HTML Checker (`make html-validator`) and the
/// checks it does not make: no script of any kind, a label for every control.
pub struct HtmlCheck {
    dir: PathBuf,
    count: usize,
}

impl HtmlCheck {
    pub fn new(name: &str) -> Self {
        let dir =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("html-{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir, count: 0 }
    }

    /// Keeps `html` (what the dashboard sent for `what`) and checks it at once for script and
    /// unlabelled controls.
    pub fn keep(&mut self, what: &str, html: &str) {
        assert!(html.starts_with("<!DOCTYPE html>"), "{what}: a whole page");
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{what}: no script element");
        assert!(!lower.contains("javascript:"), "{what}: no javascript: URL");
        for attr in [" onclick=", " onload=", " onsubmit=", " onerror=", " onchange=", " oninput=", " style="] {
            assert!(!lower.contains(attr), "{what}: no inline {attr}");
        }
        for control in lower.split('<').skip(1).filter(|t| t.starts_with("input ") || t.starts_with("select ")) {
            let tag = &control[..control.find('>').unwrap_or(control.len())];
            if tag.contains("type=\"hidden\"") || tag.contains("aria-label=") {
                continue;
            }
            let id = tag
                .split("id=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("{what}: a control without id or label: <{tag}>"));
            assert!(lower.contains(&format!("<label for=\"{id}\"")), "{what}: a label for #{id}");
        }
        self.count += 1;
        std::fs::write(self.dir.join(format!("{:02}-{what}.html", self.count)), html).unwrap();
    }

    /// Runs the checker over every kept page: no error.
    pub fn assert_valid(&self) {
        let jar = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/html/node_modules/vnu-jar/build/dist/vnu.jar");
        assert!(std::path::Path::new(jar).exists(), "{jar} is missing: run make html-validator");
        let out = Command::new("java").args(["-jar", jar, "--errors-only", "--format", "text"]).arg(&self.dir).output();
        let out = out.expect("java runs (make html-validator)");
        let report = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "the W3C checker found errors in {}:\n{report}", self.dir.display());
        assert!(self.count >= 1);
    }
}
