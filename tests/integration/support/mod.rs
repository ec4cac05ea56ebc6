pub mod bank;
