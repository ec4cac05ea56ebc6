//! An emulator of the test's own, for tests that stall it (SIGSTOP) and so must not share the
//! one `make test` started. Started and stopped by pid through `localstack/emulator.sh`.
use std::path::PathBuf;
use std::process::Command;

use super::bank::free_port;

pub struct PrivateEmulator {
    pub url: String,
    pub port: u16,
    state: PathBuf,
    pgid: i32,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("localstack/emulator.sh")
}

impl PrivateEmulator {
    pub fn start(name: &str) -> Self {
        Self::start_with(name, "dynamodb,sqs,dynamodbstreams")
    }

    /// With `services` emulated (`all` for every one, as Terraform needs).
    pub fn start_with(name: &str, services: &str) -> Self {
        let port = free_port();
        let state = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("emulator-{name}-{port}"));
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .env("EMULATOR_PORT", port.to_string())
            .env("EMULATOR_STATE", &state)
            .env("EMULATOR_SERVICES", services)
            .output()
            .expect("run emulator.sh start");
        assert!(out.status.success(), "emulator.sh start: {}", String::from_utf8_lossy(&out.stderr));
        let pid: i32 = std::fs::read_to_string(state.join("emulator.pid")).unwrap().trim().parse().unwrap();
        Self { url: format!("http://127.0.0.1:{port}"), port, state, pgid: pid }
    }

    fn signal(&self, sig: &str) {
        // emulator.sh starts it with setsid: its process group is its pid.
        let ok = Command::new("kill").args([sig, "--", &format!("-{}", self.pgid)]).status().unwrap();
        assert!(ok.success(), "kill {sig} the emulator");
    }

    /// Freezes the emulator: connections are accepted by the kernel, nothing is answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }
}

impl Drop for PrivateEmulator {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", "--", &format!("-{}", self.pgid)]).status();
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .env("EMULATOR_PORT", self.port.to_string())
            .env("EMULATOR_STATE", &self.state)
            .output();
    }
}
