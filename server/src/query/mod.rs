//! Query logic, free of storage: the filter language ([`filter`]), its evaluation over runs
//! and experiments ([`eval`]) and logged models ([`models`]), ordering ([`order`]), keyset pages and their tokens
//! ([`page`]), and metric sampling for charts ([`sample`]). Pure functions, so tests, property tests and a fuzz
//! target can call them directly.

pub mod eval;
pub mod filter;
pub mod models;
pub mod order;
pub mod page;
pub mod registry;
pub mod sample;

#[cfg(test)]
mod properties;

/// The body of the `filter_parse` fuzz target (fuzz/), shared with the test that replays its
/// committed corpus: no input may panic, and whatever parses must print to a filter that
/// parses back to the same tree and type-checks the same way.
///
/// # Panics
/// When one of those properties fails for `input` (that is the point).
pub fn check_filter_round_trip(input: &str) {
    if let Ok(Some(expr)) = filter::parse(input) {
        let printed = expr.to_string();
        let again = filter::parse(&printed).expect("a printed filter parses");
        assert_eq!(again.as_ref(), Some(&expr), "round trip of {printed:?}");
        let again = again.expect("checked above");
        assert_eq!(
            eval::check_runs(&expr).is_ok(),
            eval::check_runs(&again).is_ok()
        );
        let _ = eval::check_experiments(&expr);
    }
}
