pub mod app;
pub mod bank;
pub mod emulator;
pub mod events;
pub mod metrics;
pub mod receiver;
pub mod system;
