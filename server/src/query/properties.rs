//! Property tests of the filter parser and of sampling.

use proptest::prelude::*;

use crate::domain::Point;
use crate::query::filter::{self, Comparison, Expr, Identifier, Kind, Op, Value};
use crate::query::sample;

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Metric),
        Just(Kind::Param),
        Just(Kind::Tag),
        Just(Kind::Attribute),
        Just(Kind::Dataset)
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_]{0,10}",
        "[a-z]{1,5}(\\.[a-z]{1,5}){1,3}",
        "[a-zA-Z0-9 _`'\"-]{1,12}",
        any::<String>().prop_filter("non-empty", |s| !s.is_empty()),
    ]
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9%_ ]{0,12}", "[ -~]{0,12}", any::<String>()]
}

fn comparison() -> impl Strategy<Value = Expr> {
    let number = prop_oneof![
        any::<f64>().prop_filter("finite", |f| f.is_finite()),
        (-1000i64..1000).prop_map(|i| i as f64)
    ];
    let numeric = (
        kind(),
        key(),
        prop_oneof![
            Just(Op::Eq),
            Just(Op::Ne),
            Just(Op::Lt),
            Just(Op::Le),
            Just(Op::Gt),
            Just(Op::Ge)
        ],
        number,
    )
        .prop_map(|(kind, key, op, n)| (kind, key, op, Value::Number(n)));
    let textual = (
        kind(),
        key(),
        prop_oneof![Just(Op::Eq), Just(Op::Ne), Just(Op::Like), Just(Op::ILike)],
        string(),
    )
        .prop_map(|(kind, key, op, s)| (kind, key, op, Value::Str(s)));
    let list = (
        kind(),
        key(),
        prop_oneof![Just(Op::In), Just(Op::NotIn)],
        prop::collection::vec(string(), 1..4),
    )
        .prop_map(|(kind, key, op, l)| (kind, key, op, Value::List(l)));
    prop_oneof![numeric, textual, list].prop_map(|(kind, key, op, value)| {
        Expr::Cmp(Comparison {
            ident: Identifier { kind, key },
            op,
            value,
        })
    })
}

fn expr() -> impl Strategy<Value = Expr> {
    comparison().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner, 2..4).prop_map(Expr::Or),
        ]
    })
}

fn series() -> impl Strategy<Value = Vec<Point>> {
    prop::collection::vec(
        prop_oneof![
            any::<f64>().prop_filter("not NaN", |v| !v.is_nan()),
            -1e3f64..1e3
        ],
        0..3000,
    )
    .prop_map(|values| {
        values
            .into_iter()
            .enumerate()
            .map(|(i, value)| Point {
                step: i as i64 * 3 - 100,
                timestamp: 0,
                value,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// print → parse gives back the same tree.
    #[test]
    fn printed_filters_parse_back(e in expr()) {
        let text = e.to_string();
        let back = filter::parse(&text);
        prop_assert_eq!(back, Ok(Some(e)), "printed as {}", text);
    }

    /// Any input gives a result, never a panic; errors point inside the input.
    #[test]
    fn arbitrary_input_never_panics(s in any::<String>()) {
        if let Err(e) = filter::parse(&s) {
            prop_assert!(e.position <= s.chars().count());
        }
    }

    /// Inputs made of the language's own pieces, shuffled, never panic either.
    #[test]
    fn token_soup_never_panics(parts in prop::collection::vec(prop_oneof![
        Just("metrics."), Just("params."), Just("tags."), Just("attributes."), Just("AND"), Just("OR"),
        Just("LIKE"), Just("ILIKE"), Just("IN"), Just("NOT"), Just("("), Just(")"), Just(","), Just("'x'"),
        Just("\"y\""), Just("`z`"), Just("="), Just("!="), Just("<="), Just(">"), Just("1.5"), Just("-2"),
        Just("acc"), Just(" "), Just("'"), Just("\""),
    ], 0..40)) {
        let s: String = parts.concat();
        let _ = filter::parse(&s);
    }

    /// Min/max sampling: at most N points, first and last kept, global extremes kept, in order.
    #[test]
    fn min_max_keeps_what_charts_need(points in series(), n in 4usize..600) {
        check_sampling(&sample::min_max(&points, n), &points, n)?;
    }

    /// LTTB (with extremes added back): the same guarantees.
    #[test]
    fn lttb_keeps_what_charts_need(points in series(), n in 4usize..600) {
        check_sampling(&sample::lttb(&points, n), &points, n)?;
    }
}

/// The batch formulation of min/max sampling (bucket by position, then pick each bucket's
/// first minimum and maximum): the streaming [`sample::MinMaxSampler`] must agree with it.
fn reference_min_max(points: &[Point], max_points: usize) -> Vec<Point> {
    let max_points = max_points.max(4);
    if points.len() <= max_points {
        return points.to_vec();
    }
    let interior = &points[1..points.len() - 1];
    let buckets = (max_points - 2) / 2;
    let mut keep = vec![0];
    for b in 0..buckets {
        let (start, end) = (
            b * interior.len() / buckets,
            (b + 1) * interior.len() / buckets,
        );
        if start >= end {
            continue;
        }
        let bucket = &interior[start..end];
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in bucket.iter().enumerate() {
            if p.value.total_cmp(&bucket[lo].value).is_lt() {
                lo = i;
            }
            if p.value.total_cmp(&bucket[hi].value).is_gt() {
                hi = i;
            }
        }
        keep.push(start + lo.min(hi) + 1);
        if lo != hi {
            keep.push(start + lo.max(hi) + 1);
        }
    }
    keep.push(points.len() - 1);
    keep.into_iter().map(|i| points[i]).collect()
}

proptest! {
    #[test]
    fn streaming_min_max_equals_the_batch_definition(points in series(), n in 4usize..600) {
        prop_assert_eq!(sample::min_max(&points, n), reference_min_max(&points, n));
    }
}

fn check_sampling(sampled: &[Point], points: &[Point], n: usize) -> Result<(), TestCaseError> {
    prop_assert!(sampled.len() <= n.max(points.len().min(n)));
    prop_assert!(sampled.len() <= points.len());
    if points.is_empty() {
        prop_assert!(sampled.is_empty());
        return Ok(());
    }
    prop_assert_eq!(sampled.first(), points.first());
    prop_assert_eq!(sampled.last(), points.last());
    let max = points
        .iter()
        .map(|p| p.value)
        .fold(f64::NEG_INFINITY, f64::max);
    let min = points.iter().map(|p| p.value).fold(f64::INFINITY, f64::min);
    prop_assert!(sampled.iter().any(|p| p.value == max), "global max kept");
    prop_assert!(sampled.iter().any(|p| p.value == min), "global min kept");
    prop_assert!(
        sampled.windows(2).all(|w| w[0].step < w[1].step),
        "step order, no repeats"
    );
    Ok(())
}
