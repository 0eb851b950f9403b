//! Logged-model search (MLflow's `search_logged_models`): which attributes a filter and an
//! ordering may name, how a model is matched, and its sort key.
//!
//! Filters use the run filter language: `name`, `model_id`, `model_type`, `status`,
//! `source_run_id` (strings), `creation_timestamp` / `creation_time`,
//! `last_updated_timestamp` / `last_updated_time` (numbers), `metrics.<key>`,
//! `params.<key>`, `tags.<key>`. Orderings name an attribute or `metrics.<key>`.

use super::eval::{check_numeric_op, check_string_op, number_matches, string_matches, FilterError};
use super::filter::{Expr, Identifier, Kind};
use super::order::{OrderClause, SortKey, SortValue};
use crate::domain::LoggedModel;

/// A searchable attribute of a logged model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelField {
    /// Its name.
    Name,
    /// Its id (`m-…`).
    ModelId,
    /// Its model type.
    ModelType,
    /// PENDING, READY or FAILED.
    Status,
    /// The run that produced it.
    SourceRunId,
    /// Creation time (ms).
    CreationTime,
    /// Last change (ms).
    LastUpdatedTime,
}

impl ModelField {
    /// The field a name (or MLflow alias) refers to.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "name" => ModelField::Name,
            "model_id" => ModelField::ModelId,
            "model_type" => ModelField::ModelType,
            "status" => ModelField::Status,
            "source_run_id" => ModelField::SourceRunId,
            "creation_timestamp" | "creation_time" | "creation_timestamp_ms" => {
                ModelField::CreationTime
            }
            "last_updated_timestamp" | "last_updated_time" | "last_updated_timestamp_ms" => {
                ModelField::LastUpdatedTime
            }
            _ => return None,
        })
    }

    fn is_numeric(self) -> bool {
        matches!(self, ModelField::CreationTime | ModelField::LastUpdatedTime)
    }

    fn value(self, m: &LoggedModel) -> SortValue {
        match self {
            ModelField::Name => SortValue::Str(m.name.clone()),
            ModelField::ModelId => SortValue::Str(m.id.to_string()),
            ModelField::ModelType => SortValue::Str(m.model_type.clone()),
            ModelField::Status => SortValue::Str(m.status.short_name().into()),
            ModelField::SourceRunId => {
                SortValue::Str(m.source_run_id.map(|r| r.to_string()).unwrap_or_default())
            }
            ModelField::CreationTime => SortValue::Num(m.creation_time as f64),
            ModelField::LastUpdatedTime => SortValue::Num(m.last_updated_time as f64),
        }
    }
}

const ATTRIBUTES: &str = "name, model_id, model_type, status, source_run_id, \
                          creation_timestamp and last_updated_timestamp";

/// Type-checks a filter for logged models.
pub fn check_filter(expr: &Expr) -> Result<(), FilterError> {
    match expr {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().try_for_each(check_filter),
        Expr::Cmp(c) => match c.ident.kind {
            Kind::Metric => check_numeric_op(c),
            Kind::Param | Kind::Tag => check_string_op(c),
            Kind::Attribute => match ModelField::from_name(&c.ident.key) {
                None => Err(FilterError(format!(
                    "Invalid attribute key '{}': searchable logged-model attributes are {ATTRIBUTES}",
                    c.ident.key
                ))),
                Some(f) if f.is_numeric() => check_numeric_op(c),
                Some(_) => check_string_op(c),
            },
            Kind::Dataset => Err(FilterError(format!(
                "Invalid filter '{}': logged models are filtered on datasets with the `datasets` \
                 parameter, not in the filter",
                Expr::Cmp(c.clone())
            ))),
        },
    }
}

/// Whether a (type-checked) filter matches a model. `status` matches MLflow's short
/// (`READY`) and long (`LOGGED_MODEL_READY`) names.
pub fn matches(expr: &Expr, m: &LoggedModel) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| matches(p, m)),
        Expr::Or(parts) => parts.iter().any(|p| matches(p, m)),
        Expr::Cmp(c) => {
            let Identifier { kind, key } = &c.ident;
            match kind {
                Kind::Metric => m
                    .metric(key)
                    .is_some_and(|v| number_matches(v, c.op, &c.value)),
                Kind::Param => m
                    .params
                    .get(key)
                    .is_some_and(|v| string_matches(v, c.op, &c.value)),
                Kind::Tag => m
                    .tags
                    .get(key)
                    .is_some_and(|v| string_matches(v, c.op, &c.value)),
                Kind::Attribute => match ModelField::from_name(key) {
                    Some(ModelField::Status) => {
                        string_matches(m.status.short_name(), c.op, &c.value)
                            || string_matches(m.status.as_str(), c.op, &c.value)
                    }
                    Some(f) => match f.value(m) {
                        SortValue::Num(n) => number_matches(n, c.op, &c.value),
                        SortValue::Str(s) => string_matches(&s, c.op, &c.value),
                    },
                    None => false,
                },
                Kind::Dataset => false,
            }
        }
    }
}

/// Checks that every ordering names an attribute or a metric.
pub fn check_clauses(clauses: &[OrderClause]) -> Result<(), String> {
    for c in clauses {
        let ok = match c.ident.kind {
            Kind::Attribute => ModelField::from_name(&c.ident.key).is_some(),
            Kind::Metric => true,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "Invalid order by field name: {}. Logged models sort by {ATTRIBUTES} or metrics.<key>.",
                c.ident
            ));
        }
    }
    Ok(())
}

/// A model's sort key; MLflow's default order and tie-break: creation time descending,
/// then id.
pub fn sort_key(m: &LoggedModel, clauses: &[OrderClause]) -> SortKey {
    SortKey {
        values: clauses
            .iter()
            .map(|c| match c.ident.kind {
                Kind::Metric => m.metric(&c.ident.key).map(SortValue::Num),
                _ => ModelField::from_name(&c.ident.key).map(|f| f.value(m)),
            })
            .collect(),
        tie: vec![
            SortValue::Num(-(m.creation_time as f64)),
            SortValue::Str(m.id.to_string()),
        ],
    }
}
