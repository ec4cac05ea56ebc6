//! ARCHITECTURE.md's rules, checked on the source rather than only written down: which module of
//! `src/` may name which other, and which crates the inner layers may not use. Reads the files as
//! text (comments and the trailing `#[cfg(test)]` module of a file left out: tests may reach
//! further); needs no emulator.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Crates that put I/O or a framework into a layer.
const ADAPTER_CRATES: &[&str] = &[
    "aws_sdk_dynamodb",
    "aws_sdk_sqs",
    "aws_config",
    "aws_smithy_runtime_api",
    "aws_lc_rs",
    "axum",
    "hyper",
    "hyper_util",
    "tower",
    "tower_http",
    "reqwest",
    "serde_dynamo",
    "rusqlite",
    "utoipa",
    "utoipa_axum",
];

/// The adapters: each implements ports, and none is named outside `wiring` but by itself (and
/// by the test support, `testing`).
const ADAPTERS: &[&str] = &["dynamo", "sqs", "bank_client", "vault", "webhook_client"];

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A file's code as the rules see it: no comments, no test module, and no file that is only
/// tests (`tests.rs`, `*_tests.rs`, anything under a `tests/` folder).
fn code(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    if name == "tests.rs" || name.ends_with("_tests.rs") || path.components().any(|c| c.as_os_str() == "tests") {
        return None;
    }
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => &text,
    };
    Some(text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n"))
}

/// The top-level modules of this crate a file names (`crate::x`, `crate::{x, y}`).
fn crate_modules(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue; // `payment_platform::...` in a doc test, or another crate's `crate::`
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            found.extend(group[..end].split(',').map(|m| m.trim().split("::").next().unwrap_or("").to_owned()));
        } else {
            found.insert(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// The crates of `ADAPTER_CRATES` a file uses.
fn adapter_crates(code: &str) -> BTreeSet<&'static str> {
    ADAPTER_CRATES
        .iter()
        .copied()
        .filter(|krate| {
            code.match_indices(&format!("{krate}::"))
                .any(|(i, _)| !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':'))
        })
        .collect()
}

/// Each file of `module` (a folder or a `.rs` of `src/`), with its code.
fn files_of(module: &str) -> Vec<(String, String)> {
    let dir = src().join(module);
    let paths = if dir.is_dir() { sources(&dir) } else { vec![src().join(format!("{module}.rs"))] };
    paths.into_iter().filter_map(|p| Some((p.strip_prefix(src()).unwrap().display().to_string(), code(&p)?))).collect()
}

/// Every breach of "files of `module` name only `allowed` of this crate's modules".
fn naming_only(module: &str, allowed: &[&str]) -> Vec<String> {
    let mut breaches = Vec::new();
    for (file, code) in files_of(module) {
        for named in crate_modules(&code) {
            if named != module && !allowed.contains(&named.as_str()) {
                breaches.push(format!("src/{file} names crate::{named}"));
            }
        }
    }
    breaches
}

fn assert_none(breaches: Vec<String>, rule: &str) {
    assert!(breaches.is_empty(), "ARCHITECTURE.md, \"{rule}\":\n  {}", breaches.join("\n  "));
}

#[test]
fn the_domain_names_nothing_outside_itself_and_uses_no_adapter_crate_or_tokio() {
    let mut breaches = naming_only("domain", &[]);
    for (file, code) in files_of("domain") {
        for krate in adapter_crates(&code).into_iter().chain(code.contains("tokio::").then_some("tokio")) {
            breaches.push(format!("src/{file} uses {krate}"));
        }
    }
    assert_none(breaches, "domain imports nothing of this crate outside domain, and no AWS, axum or tokio");
}

#[test]
fn the_use_cases_see_the_ports_and_never_an_adapter() {
    let mut breaches = naming_only("app", &["domain", "telemetry", "util", "testing"]);
    for (file, code) in files_of("app") {
        for krate in adapter_crates(&code) {
            breaches.push(format!("src/{file} uses {krate}"));
        }
    }
    assert_none(breaches, "app imports domain only: it sees the ports, never an adapter");
}

#[test]
fn adapters_name_the_domain_and_shared_helpers_but_no_use_case_entry_point_or_other_adapter() {
    let mut breaches = Vec::new();
    for adapter in ADAPTERS {
        breaches.extend(naming_only(adapter, &["domain", "telemetry", "util", "aws", "wire"]));
    }
    assert_none(breaches, "adapters implement ports");
}

#[test]
fn the_wire_types_are_built_from_the_domain_and_nothing_of_a_layer() {
    assert_none(naming_only("wire", &["domain"]), "wire types are shared by http and webhook bodies");
}

#[test]
fn the_http_api_and_the_worker_runtime_reach_no_store_or_adapter_themselves() {
    let mut breaches = naming_only("http", &["app", "domain", "telemetry", "util", "wire", "testing"]);
    breaches.extend(naming_only("worker", &["app", "domain", "telemetry", "util", "testing"]));
    assert_none(breaches, "http and worker call use cases; they do not reach into a store themselves");
}

#[test]
fn configuration_knows_no_use_case_or_adapter() {
    assert_none(naming_only("config", &["domain", "telemetry", "util"]), "config holds settings; wiring converts them");
}

#[test]
fn only_wiring_names_the_concrete_adapters() {
    let concrete = ["DynamoStore", "SqsJobQueue", "SqsWorkQueue", "HttpWebhookSender", "AeadVault", "HmacFingerprints"];
    let mut breaches = Vec::new();
    for path in sources(&src()) {
        let file = path.strip_prefix(src()).unwrap().display().to_string();
        let home = file.split(['/', '.']).next().unwrap();
        // The dashboard is a service of its own that builds its own few parts (its cookie vault).
        if ["wiring", "testing", "setup", "dashboard"].contains(&home) || ADAPTERS.contains(&home) {
            continue;
        }
        let Some(code) = code(&path) else { continue };
        for name in concrete {
            if code.contains(name) {
                breaches.push(format!("src/{file} names {name}"));
            }
        }
        if code.contains("bank_client::connect") {
            breaches.push(format!("src/{file} connects to the bank"));
        }
    }
    assert_none(breaches, "wiring is the only module that names concrete adapters for a service");
}

#[test]
fn the_dashboard_is_a_client_of_the_public_api_and_reaches_no_store_queue_or_use_case() {
    let mut breaches = naming_only("dashboard", &["config", "domain", "telemetry", "util", "vault"]);
    for (file, code) in files_of("dashboard") {
        for krate in adapter_crates(&code)
            .into_iter()
            .filter(|k| k.starts_with("aws_sdk") || k.starts_with("aws_smithy") || *k == "aws_config")
        {
            breaches.push(format!("src/{file} uses {krate}"));
        }
    }
    assert_none(breaches, "the dashboard uses only the public API");
}

#[test]
fn the_checks_see_what_they_check() {
    // The parsing above, on known text: a rule that finds nothing must not be a parser that
    // sees nothing.
    let code = "use crate::{dynamo, sqs::x};\nuse crate::app::Services;\nlet c = aws_sdk_sqs::Client;";
    assert_eq!(crate_modules(code), BTreeSet::from(["app".into(), "dynamo".into(), "sqs".into()]));
    assert_eq!(adapter_crates(code), BTreeSet::from(["aws_sdk_sqs"]));
    assert!(adapter_crates("use crate::http::axum_like;").is_empty());
    assert!(!naming_only("worker", &[]).is_empty(), "the worker runtime names app");
    assert!(files_of("domain").len() > 10);
}

#[test]
fn every_file_architecture_md_names_exists() {
    // The walk-throughs name files (`app/settle/charge.rs`, `http/payments/`): a move that leaves
    // the map behind fails here.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let map = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let named: Vec<&str> = map
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| !s.contains([' ', '<']) && (s.ends_with(".rs") || s.ends_with('/')) && s.contains('/'))
        .collect();
    assert!(named.len() > 20, "the map names files: {named:?}");
    let missing: Vec<&&str> =
        named.iter().filter(|p| !root.join(p).exists() && !root.join("src").join(p).exists()).collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md names files that do not exist: {missing:?}");
}
