//! Query logic, free of storage: the filter language ([`filter`]), its evaluation over runs
//! and experiments ([`eval`]), ordering ([`order`]), keyset pages and their tokens
//! ([`page`]), and metric sampling for charts ([`sample`]). Pure functions, so tests, property tests and a fuzz
//! target can call them directly.

pub mod eval;
pub mod filter;
pub mod order;
pub mod page;
pub mod sample;

#[cfg(test)]
mod properties;
