//! Which URLs an endpoint may have. In production only `https` to a public host: a webhook must
//! never become a way to reach this platform's own network (the instance metadata service at
//! 169.254.169.254, private ranges, loopback). The host's name is checked here; the addresses
//! it resolves to are checked again when a delivery connects (the webhook sender's resolver).
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// Longest URL accepted.
pub const MAX_URL: usize = 2048;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("not an absolute http(s) URL of at most 2048 characters")]
    Malformed,
    #[error("only https URLs are accepted")]
    NotHttps,
    #[error("URLs may not carry a user name or password")]
    Credentials,
    #[error("the URL's host is not a public address")]
    NotPublic,
}

/// An endpoint's URL, checked by `parse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// `allow_private` admits `http` and private or loopback hosts (the emulator's `make dev`).
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, UrlError> {
        if raw.len() > MAX_URL {
            return Err(UrlError::Malformed);
        }
        let url = ::url::Url::parse(raw).map_err(|_| UrlError::Malformed)?;
        match url.scheme() {
            "https" => {}
            "http" if allow_private => {}
            "http" => return Err(UrlError::NotHttps),
            _ => return Err(UrlError::Malformed),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlError::Credentials);
        }
        let public = match url.host().ok_or(UrlError::Malformed)? {
            ::url::Host::Ipv4(ip) => is_public(IpAddr::V4(ip)),
            ::url::Host::Ipv6(ip) => is_public(IpAddr::V6(ip)),
            ::url::Host::Domain(name) => !is_internal_name(name),
        };
        if !public && !allow_private {
            return Err(UrlError::NotPublic);
        }
        Ok(Self(url.to_string()))
    }

    /// Read back from storage: checked when it was accepted.
    pub fn stored(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names that resolve inside a network by convention, never to a merchant's public server.
fn is_internal_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || !name.contains('.')
        || [".localhost", ".local", ".internal", ".localdomain", ".home.arpa"].iter().any(|s| name.ends_with(s))
}

/// Whether `ip` is a globally routable unicast address (what a merchant's server has).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            let v4 = |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
            // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they carry.
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return is_public_v4(v4(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public_v4(v4(s[1], s[2]));
            }
            // Beyond those only global unicast (2000::/3) is a merchant's server; of it, not
            // documentation (2001:db8::/32) or Teredo tunnels (2001::/32). That leaves out
            // loopback, unspecified, IPv4-compatible, unique and link-local, multicast, the
            // local-use NAT64 prefix and everything reserved.
            (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && (s[1] == 0x0db8 || s[1] == 0))
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network"
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 169 && b == 254) // link-local, the instance metadata service
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224) // multicast, reserved, broadcast
}
