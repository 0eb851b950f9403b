//! Model-registry search (MLflow's `search_registered_models` and `search_model_versions`):
//! which attributes a filter and an `order_by` may name, matching, and sort keys.
//!
//! Registered models: `name` and `tags.<key>` in filters; `name`, `timestamp` /
//! `last_updated_timestamp`, `creation_timestamp` in orderings (default: name). Versions:
//! `name`, `version_number`, `run_id`, `source_path`, `model_id`, `current_stage`,
//! `creation_timestamp`, `last_updated_timestamp`, `tags.<key>` in filters and orderings
//! (default: name, then version descending). A tag compared with `!=` also matches an
//! entry that lacks the tag (MLflow's registry rule).

use super::eval::{check_numeric_op, check_string_op, number_matches, string_matches, FilterError};
use super::filter::{Expr, Kind, Op};
use super::order::{OrderClause, SortKey, SortValue};
use crate::domain::{ModelVersion, RegisteredModel};

fn model_field(key: &str, m: &RegisteredModel) -> Option<SortValue> {
    Some(match key {
        "name" => SortValue::Str(m.name.clone()),
        "timestamp" | "last_updated_timestamp" => SortValue::Num(m.last_updated_time as f64),
        "creation_timestamp" => SortValue::Num(m.creation_time as f64),
        _ => return None,
    })
}

fn version_field(key: &str, name: &str, v: &ModelVersion) -> Option<SortValue> {
    Some(match key {
        "name" => SortValue::Str(name.to_owned()),
        "version_number" | "version" => SortValue::Num(v.version as f64),
        "run_id" => SortValue::Str(v.run_id.clone()),
        "source_path" | "source" => SortValue::Str(v.source.clone()),
        "model_id" => SortValue::Str(v.model_id.clone()),
        "current_stage" => SortValue::Str(v.stage.as_str().to_owned()),
        "creation_timestamp" => SortValue::Num(v.creation_time as f64),
        "last_updated_timestamp" | "timestamp" => SortValue::Num(v.last_updated_time as f64),
        _ => return None,
    })
}

fn is_numeric(value: &SortValue) -> bool {
    matches!(value, SortValue::Num(_))
}

fn check(
    expr: &Expr,
    what: &str,
    field: &dyn Fn(&str) -> Option<SortValue>,
) -> Result<(), FilterError> {
    match expr {
        Expr::And(parts) => parts.iter().try_for_each(|p| check(p, what, field)),
        Expr::Or(_) => Err(FilterError(format!(
            "Invalid filter: {what} filters join clauses with AND only"
        ))),
        Expr::Cmp(c) => match c.ident.kind {
            Kind::Tag => check_string_op(c),
            Kind::Attribute => match field(&c.ident.key) {
                Some(v) if is_numeric(&v) => check_numeric_op(c),
                Some(_) => check_string_op(c),
                None => Err(FilterError(format!(
                    "Invalid attribute key '{}' for {what}",
                    c.ident.key
                ))),
            },
            _ => Err(FilterError(format!(
                "Invalid filter '{}': {what} are filtered by attributes and tags",
                Expr::Cmp(c.clone())
            ))),
        },
    }
}

fn matches(
    expr: &Expr,
    tags: &std::collections::BTreeMap<String, String>,
    field: &dyn Fn(&str) -> Option<SortValue>,
) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| matches(p, tags, field)),
        Expr::Or(parts) => parts.iter().any(|p| matches(p, tags, field)),
        Expr::Cmp(c) => match c.ident.kind {
            // The registry's rule (unlike runs'): `!=` also matches an entry without the tag;
            // MLflow's client relies on it to hide prompts
            // (`tags.`mlflow.prompt.is_prompt` != 'true'`).
            Kind::Tag => match tags.get(&c.ident.key) {
                Some(v) => string_matches(v, c.op, &c.value),
                None => c.op == Op::Ne,
            },
            Kind::Attribute => match field(&c.ident.key) {
                Some(SortValue::Num(n)) => number_matches(n, c.op, &c.value),
                Some(SortValue::Str(s)) => string_matches(&s, c.op, &c.value),
                None => false,
            },
            _ => false,
        },
    }
}

/// Type-checks a registered-model filter.
pub fn check_model_filter(expr: &Expr) -> Result<(), FilterError> {
    let probe = probe_model();
    check(expr, "registered models", &|k| model_field(k, &probe))
}

/// Whether a registered model matches a (checked) filter.
pub fn model_matches(expr: &Expr, m: &RegisteredModel) -> bool {
    matches(expr, &m.tags, &|k| model_field(k, m))
}

/// Type-checks a model-version filter.
pub fn check_version_filter(expr: &Expr) -> Result<(), FilterError> {
    let probe = probe_version();
    check(expr, "model versions", &|k| version_field(k, "", &probe))
}

/// Whether a version matches a (checked) filter.
pub fn version_matches(expr: &Expr, name: &str, v: &ModelVersion) -> bool {
    matches(expr, &v.tags, &|k| version_field(k, name, v))
}

/// Checks registered-model orderings.
pub fn check_model_clauses(clauses: &[OrderClause]) -> Result<(), String> {
    let probe = probe_model();
    check_clauses(clauses, &|k| model_field(k, &probe))
}

/// Checks model-version orderings.
pub fn check_version_clauses(clauses: &[OrderClause]) -> Result<(), String> {
    let probe = probe_version();
    check_clauses(clauses, &|k| version_field(k, "", &probe))
}

fn check_clauses(
    clauses: &[OrderClause],
    field: &dyn Fn(&str) -> Option<SortValue>,
) -> Result<(), String> {
    for c in clauses {
        if c.ident.kind != Kind::Attribute || field(&c.ident.key).is_none() {
            return Err(format!("Invalid order by key '{}'", c.ident));
        }
    }
    Ok(())
}

/// A registered model's sort key (tie-break: name).
pub fn model_key(m: &RegisteredModel, clauses: &[OrderClause]) -> SortKey {
    SortKey {
        values: clauses
            .iter()
            .map(|c| model_field(&c.ident.key, m))
            .collect(),
        tie: vec![SortValue::Str(m.name.clone())],
    }
}

/// A version's sort key (tie-break: name, then newest version first).
pub fn version_key(name: &str, v: &ModelVersion, clauses: &[OrderClause]) -> SortKey {
    SortKey {
        values: clauses
            .iter()
            .map(|c| version_field(&c.ident.key, name, v))
            .collect(),
        tie: vec![
            SortValue::Str(name.to_owned()),
            SortValue::Num(-(v.version as f64)),
        ],
    }
}

fn probe_model() -> RegisteredModel {
    RegisteredModel {
        name: String::new(),
        creation_time: 0,
        last_updated_time: 0,
        description: String::new(),
        tags: Default::default(),
        aliases: Default::default(),
        versions: Vec::new(),
    }
}

fn probe_version() -> ModelVersion {
    ModelVersion {
        version: 0,
        creation_time: 0,
        last_updated_time: 0,
        description: String::new(),
        source: String::new(),
        storage_location: String::new(),
        run_id: String::new(),
        model_id: String::new(),
        stage: crate::domain::Stage::None,
        tags: Default::default(),
        deleted: false,
    }
}
