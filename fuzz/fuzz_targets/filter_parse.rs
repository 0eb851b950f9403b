//! Fuzzes the search filter parser: no input may panic, and whatever parses must print to a
//! filter that parses back to the same tree and type-checks the same way.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trackd_server::query::{eval, filter};

fuzz_target!(|input: &str| {
    if let Ok(Some(expr)) = filter::parse(input) {
        let printed = expr.to_string();
        let again = filter::parse(&printed).expect("a printed filter parses");
        assert_eq!(again.as_ref(), Some(&expr), "round trip of {printed:?}");
        assert_eq!(eval::check_runs(&expr).is_ok(), eval::check_runs(again.as_ref().unwrap()).is_ok());
        let _ = eval::check_experiments(&expr);
    }
});
