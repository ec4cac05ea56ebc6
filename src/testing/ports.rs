//! Ports for child processes to listen on.
//!
//! Binding port 0 and letting it go hands out a port from the kernel's ephemeral range, the
//! range every outgoing connection takes its local port from. On a busy test machine (thousands
//! of connections to the emulator) such a port is often held by a client socket, or by one in
//! TIME_WAIT, when the child binds it a moment later, and the child fails with "address in use".
//! `make dev`'s test keeps its ports across three starts, so it was the first to meet this.
//!
//! So ports come from below the ephemeral range, where no outgoing connection lands, and each
//! is handed out once per process (a counter), from a start that depends on the process id so
//! that two test processes on one machine rarely meet.
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

/// The lowest port handed out.
const FLOOR: u16 = 10_000;
/// Below this many ports between `FLOOR` and the ephemeral range, fall back to the kernel's pick.
const MIN_SPAN: u16 = 2_000;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A free port, handed out once by this process.
pub fn free_port() -> std::io::Result<u16> {
    free_ports(1)
}

/// The first of `n` consecutive free ports (for components that listen on `base + i`), all of
/// them handed out once by this process.
pub fn free_ports(n: u16) -> std::io::Result<u16> {
    let top = ephemeral_low();
    if top < FLOOR + MIN_SPAN || n == 0 {
        return kernel_pick(n);
    }
    let span = u32::from(top - FLOOR);
    let start = std::process::id().wrapping_mul(7_919) % span;
    // Each try takes `n` fresh numbers; a run that would cross the top is skipped.
    for _ in 0..span / u32::from(n) {
        let first = (start + NEXT.fetch_add(u32::from(n), Ordering::Relaxed)) % span;
        if first + u32::from(n) > span {
            continue;
        }
        let base = FLOOR + first as u16;
        if (base..base + n).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return Ok(base);
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "no free ports below the ephemeral range"))
}

/// Where the kernel's ephemeral range starts (Linux), or where it starts by default.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// The kernel's pick, for a machine whose ephemeral range leaves no room below it.
fn kernel_pick(n: u16) -> std::io::Result<u16> {
    loop {
        let base = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        if base.checked_add(n).is_some() && (1..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return Ok(base);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_below_the_ephemeral_range_and_never_handed_out_twice() {
        let top = ephemeral_low();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..500 {
            let p = free_port().unwrap();
            if top >= FLOOR + MIN_SPAN {
                assert!((FLOOR..top).contains(&p), "{p} is outside {FLOOR}..{top}");
            }
            assert!(seen.insert(p), "{p} handed out twice");
        }
        let base = free_ports(3).unwrap();
        for p in base..base + 3 {
            assert!(seen.insert(p), "{p} of a run handed out before");
            TcpListener::bind(("127.0.0.1", p)).expect("each port of the run is free");
        }
    }
}
