//! The benchmark behind `make bench` (work in progress).
pub fn main() -> anyhow::Result<()> {
    anyhow::bail!("the benchmark is not written yet")
}
