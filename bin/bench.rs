//! `make bench`: the load generator. All the logic is in `payment_platform::bench`.
fn main() -> anyhow::Result<()> {
    payment_platform::bench::main()?;
    Ok(())
}
