//! The small helpers more than one module needs, in one place.
pub mod cache;
pub mod single_flight;

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// A mutex's guard, also after a panic elsewhere poisoned it: what these mutexes guard (caches,
/// counters, slot maps) stays consistent at every step, so a poisoned one is still good to use.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The secrets of a comma-separated list that are set: a blank entry (`..._OLD_KEYS=` set but
/// empty) is none, and must never become an empty HMAC key or a key that fails to decode.
pub fn present_secrets(secrets: &[SecretString]) -> impl Iterator<Item = &str> {
    secrets.iter().map(|s| s.expose_secret().trim()).filter(|s| !s.is_empty())
}

/// Whether `url` names this machine: `localhost` or a loopback address (127.0.0.0/8, ::1).
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url.trim()) else { return false };
    match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        None => false,
    }
}

/// Whether a token or a code may travel to `url`: https, or plain http to this machine
/// (`is_loopback_url`).
pub fn is_https_or_loopback(url: &str) -> bool {
    match url::Url::parse(url.trim()) {
        Ok(u) if u.scheme() == "https" => true,
        Ok(u) if u.scheme() == "http" => is_loopback_url(url),
        _ => false,
    }
}

/// Binding a listener failed: which address, and why.
#[derive(Debug, thiserror::Error)]
#[error("binding {addr} failed")]
pub struct BindError {
    pub addr: std::net::SocketAddr,
    #[source]
    pub source: std::io::Error,
}

/// A TCP listener on `addr` (the API's two, a worker's health endpoint).
pub async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, BindError> {
    tokio::net::TcpListener::bind(addr).await.map_err(|source| BindError { addr, source })
}

/// Wall-clock milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Lower-case hex of `bytes`: by table, not by `write!` per byte (which the API paid for every
/// fingerprint and hash of every keyed request).
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Lower-case hex of the SHA-256 of `parts`, fed one after the other.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update(part);
    }
    hex(&h.finalize())
}

/// A page cursor as clients see it: opaque, the URL-safe base64 of a position the store reads.
pub fn cursor(position: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

/// The position a `cursor` carries; `None` for anything `cursor` did not write.
pub fn position(cursor: &str) -> Option<String> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(raw).ok()
}

/// Of `items` (read up to `limit` + 1), the first `limit` and, when more exist (the extra one
/// came, or the read `stopped_early`), the last one kept: where the next page starts.
pub fn split_page<T: Clone>(mut items: Vec<T>, limit: u32, stopped_early: bool) -> (Vec<T>, Option<T>) {
    let more = items.len() > limit as usize || stopped_early;
    items.truncate(limit as usize);
    let next = if more { items.last().cloned() } else { None };
    (items, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_travel_over_https_or_to_this_machine_only() {
        for ok in ["https://idp.example.com", "http://127.0.0.1:9000/x", "http://localhost", "http://[::1]:1"] {
            assert!(is_https_or_loopback(ok), "{ok}");
        }
        for bad in ["http://idp.example.com", "ftp://127.0.0.1", "127.0.0.1:80", ""] {
            assert!(!is_https_or_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn sha256_of_abc_is_the_standard_vector() {
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(&[b"a", b"bc"]), want);
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }

    #[test]
    fn cursors_round_trip_and_pages_split_after_their_limit() {
        assert_eq!(position(&cursor("0001#x")).as_deref(), Some("0001#x"));
        assert_eq!(position("not base64!"), None);
        assert_eq!(split_page(vec![1, 2, 3], 2, false), (vec![1, 2], Some(2)));
        assert_eq!(split_page(vec![1, 2], 2, false), (vec![1, 2], None), "exactly full: no empty next page");
        assert_eq!(split_page(vec![1, 2], 2, true), (vec![1, 2], Some(2)), "stopped early: more may exist");
    }
}
