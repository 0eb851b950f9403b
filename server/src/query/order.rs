//! `order_by` clauses and keyset page positions.
//!
//! Each result gets a sort key: one optional value per clause, then the entity's tie-break
//! (runs: `start_time DESC, run_id ASC`; experiments: `experiment_id ASC`). Missing values
//! sort last in both directions. A page token stores the sort key of the last row returned,
//! so the next page starts strictly after it, however many rows were inserted meanwhile.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::domain::{Experiment, Run};
use crate::query::eval::{ExperimentField, RunField};
use crate::query::filter::{parse_identifier_prefix, Identifier, Kind};

/// Most clauses in one `order_by`.
pub const MAX_ORDER_CLAUSES: usize = 20;

/// One `order_by` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderClause {
    /// What to sort by.
    pub ident: Identifier,
    /// Descending?
    pub descending: bool,
}

/// One component of a sort key.
#[derive(Debug, Clone, PartialEq, PartialOrd, Serialize, Deserialize)]
pub enum SortValue {
    /// A number (metric values, times).
    Num(f64),
    /// A string.
    Str(String),
}

impl SortValue {
    fn cmp_total(&self, other: &SortValue) -> Ordering {
        match (self, other) {
            (SortValue::Num(a), SortValue::Num(b)) => a.total_cmp(b),
            (SortValue::Str(a), SortValue::Str(b)) => a.cmp(b),
            (SortValue::Num(_), SortValue::Str(_)) => Ordering::Less,
            (SortValue::Str(_), SortValue::Num(_)) => Ordering::Greater,
        }
    }
}

/// A row's full sort key: the clause values, then the tie-break values (always present).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SortKey {
    /// One value per clause (`None` = missing).
    pub values: Vec<Option<SortValue>>,
    /// Tie-break values.
    pub tie: Vec<SortValue>,
}

/// Parses `order_by` clauses: `<identifier> [ASC|DESC]`.
pub fn parse_order_by(clauses: &[String]) -> Result<Vec<OrderClause>, String> {
    if clauses.len() > MAX_ORDER_CLAUSES {
        return Err(format!(
            "at most {MAX_ORDER_CLAUSES} order_by clauses are allowed"
        ));
    }
    clauses
        .iter()
        .map(|clause| {
            let (ident, rest) = parse_identifier_prefix(clause)
                .map_err(|e| format!("Invalid order_by clause '{clause}': {}", e.message))?;
            let descending = match rest.as_slice() {
                [] => false,
                [d] if d.eq_ignore_ascii_case("ASC") => false,
                [d] if d.eq_ignore_ascii_case("DESC") => true,
                _ => {
                    return Err(format!(
                        "Invalid order_by clause '{clause}': expected ASC or DESC after the key"
                    ))
                }
            };
            Ok(OrderClause { ident, descending })
        })
        .collect()
}

/// Checks that every clause names something runs can be sorted by.
pub fn check_run_clauses(clauses: &[OrderClause]) -> Result<(), String> {
    for c in clauses {
        if c.ident.kind == Kind::Attribute && RunField::from_name(&c.ident.key).is_none() {
            return Err(format!(
                "Invalid order_by key '{}': not a run attribute",
                c.ident.key
            ));
        }
        if c.ident.kind == Kind::Dataset {
            return Err(format!(
                "Invalid order_by key '{}': runs sort by metrics, params, tags and attributes",
                c.ident
            ));
        }
    }
    Ok(())
}

/// Checks that every clause names something experiments can be sorted by.
pub fn check_experiment_clauses(clauses: &[OrderClause]) -> Result<(), String> {
    for c in clauses {
        let ok =
            c.ident.kind == Kind::Attribute && ExperimentField::from_name(&c.ident.key).is_some();
        if !ok {
            return Err(format!(
                "Invalid order_by key '{}': experiments sort by name, experiment_id, creation_time or last_update_time",
                c.ident
            ));
        }
    }
    Ok(())
}

fn run_value(run: &Run, ident: &Identifier) -> Option<SortValue> {
    match ident.kind {
        Kind::Metric => run.metrics.get(&ident.key).map(|p| SortValue::Num(p.value)),
        Kind::Param => run
            .params
            .get(&ident.key)
            .map(|v| SortValue::Str(v.clone())),
        Kind::Tag => run.tags.get(&ident.key).map(|v| SortValue::Str(v.clone())),
        Kind::Attribute => match RunField::from_name(&ident.key)? {
            RunField::RunId => Some(SortValue::Str(run.info.run_id.to_string())),
            RunField::RunName => Some(SortValue::Str(run.info.run_name.clone())),
            RunField::Status => Some(SortValue::Str(run.info.status.as_str().into())),
            RunField::UserId => Some(SortValue::Str(run.info.user_id.clone())),
            RunField::ArtifactUri => Some(SortValue::Str(run.info.artifact_uri.clone())),
            RunField::LifecycleStage => Some(SortValue::Str(run.info.lifecycle.as_str().into())),
            RunField::StartTime => Some(SortValue::Num(run.info.start_time as f64)),
            RunField::EndTime => run.info.end_time.map(|t| SortValue::Num(t as f64)),
        },
        Kind::Dataset => None,
    }
}

/// The sort key of a run.
pub fn run_key(run: &Run, clauses: &[OrderClause]) -> SortKey {
    SortKey {
        values: clauses.iter().map(|c| run_value(run, &c.ident)).collect(),
        // MLflow's default order and tie-break: start_time DESC, then run_id.
        tie: vec![
            SortValue::Num(-(run.info.start_time as f64)),
            SortValue::Str(run.info.run_id.to_string()),
        ],
    }
}

/// The sort key of an experiment.
pub fn experiment_key(exp: &Experiment, clauses: &[OrderClause]) -> SortKey {
    let value = |c: &OrderClause| -> Option<SortValue> {
        Some(match ExperimentField::from_name(&c.ident.key)? {
            ExperimentField::Name => SortValue::Str(exp.name.clone()),
            ExperimentField::ExperimentId => SortValue::Num(exp.id.0 as f64),
            ExperimentField::CreationTime => SortValue::Num(exp.creation_time as f64),
            ExperimentField::LastUpdateTime => SortValue::Num(exp.last_update_time as f64),
            ExperimentField::LifecycleStage => SortValue::Str(exp.lifecycle.as_str().into()),
        })
    };
    let tie = if clauses.is_empty() {
        // MLflow's default: creation_time DESC, experiment_id ASC.
        vec![
            SortValue::Num(-(exp.creation_time as f64)),
            SortValue::Num(exp.id.0 as f64),
        ]
    } else {
        vec![SortValue::Num(exp.id.0 as f64)]
    };
    SortKey {
        values: clauses.iter().map(value).collect(),
        tie,
    }
}

/// Compares two sort keys under `clauses` (missing values last, in both directions).
pub fn compare(a: &SortKey, b: &SortKey, clauses: &[OrderClause]) -> Ordering {
    for (i, clause) in clauses.iter().enumerate() {
        let ord = match (
            a.values.get(i).cloned().flatten(),
            b.values.get(i).cloned().flatten(),
        ) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let o = x.cmp_total(&y);
                if clause.descending {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    a.tie
        .iter()
        .zip(&b.tie)
        .map(|(x, y)| x.cmp_total(y))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_clauses() {
        let c = parse_order_by(&[
            "metrics.rmse DESC".into(),
            "params.lr".into(),
            "attributes.start_time asc".into(),
        ])
        .unwrap();
        assert_eq!(c.len(), 3);
        assert!(c[0].descending && !c[1].descending && !c[2].descending);
        assert_eq!(c[0].ident.kind, Kind::Metric);
        assert!(parse_order_by(&["metrics.x SIDEWAYS".into()]).is_err());
        assert!(parse_order_by(&["".into()]).is_err());
        let ok = parse_order_by(&["tags.`my tag` DESC".into()]).unwrap();
        assert_eq!(ok[0].ident.key, "my tag");
    }

    #[test]
    fn missing_values_sort_last_both_ways() {
        let clauses = |desc| {
            vec![OrderClause {
                ident: Identifier {
                    kind: Kind::Metric,
                    key: "m".into(),
                },
                descending: desc,
            }]
        };
        let key = |v: Option<f64>| SortKey {
            values: vec![v.map(SortValue::Num)],
            tie: vec![],
        };
        for desc in [false, true] {
            assert_eq!(
                compare(&key(None), &key(Some(1.0)), &clauses(desc)),
                Ordering::Greater
            );
            assert_eq!(
                compare(&key(Some(1.0)), &key(None), &clauses(desc)),
                Ordering::Less
            );
        }
        assert_eq!(
            compare(&key(Some(1.0)), &key(Some(2.0)), &clauses(true)),
            Ordering::Greater
        );
    }
}
