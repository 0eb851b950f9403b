//! Query logic, free of storage: the filter language ([`filter`]), its evaluation over runs
//! and experiments ([`eval`]), ordering and keyset page positions ([`order`]), and metric
//! sampling for charts ([`sample`]). Pure functions, so tests, property tests and a fuzz
//! target can call them directly.

pub mod eval;
pub mod filter;
pub mod order;
pub mod sample;

#[cfg(test)]
mod properties;
