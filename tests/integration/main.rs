
mod bank_sim;
mod support;
