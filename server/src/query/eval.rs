//! Evaluating filters over runs and experiments.
//!
//! A parsed [`Expr`] is first *compiled* for an entity (runs or experiments): identifiers are
//! resolved to fields and every operator/value pair is type-checked, so a bad filter fails
//! once with a clear message instead of silently matching nothing. Evaluation then follows
//! MLflow: a run without the referenced metric, param or tag does not match (not even `!=`).

use crate::domain::{Experiment, Run};
use crate::query::filter::{Comparison, Expr, Identifier, Kind, Op, Value};

/// A filter that parses but does not type-check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl std::fmt::Display for FilterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run field a filter or ordering can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunField {
    /// `run_id`
    RunId,
    /// `run_name`
    RunName,
    /// `status`
    Status,
    /// `user_id`
    UserId,
    /// `artifact_uri`
    ArtifactUri,
    /// `lifecycle_stage`
    LifecycleStage,
    /// `start_time` (alias `created`)
    StartTime,
    /// `end_time`
    EndTime,
}

impl RunField {
    /// Resolves an attribute name (MLflow's names and aliases).
    pub fn from_name(name: &str) -> Option<RunField> {
        Some(match name {
            "run_id" | "run_uuid" | "id" => RunField::RunId,
            "run_name" | "run name" | "Run name" | "Run Name" => RunField::RunName,
            "status" => RunField::Status,
            "user_id" => RunField::UserId,
            "artifact_uri" => RunField::ArtifactUri,
            "lifecycle_stage" => RunField::LifecycleStage,
            "start_time" | "created" | "Created" => RunField::StartTime,
            "end_time" => RunField::EndTime,
            _ => return None,
        })
    }

    /// Whether the field holds a number (milliseconds).
    pub fn is_numeric(self) -> bool {
        matches!(self, RunField::StartTime | RunField::EndTime)
    }
}

/// A field of a dataset a run used, as filters name it (`datasets.<field>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetField {
    /// `name`
    Name,
    /// `digest`
    Digest,
    /// `context`: the input tag `mlflow.data.context` (e.g. `training`, `eval`).
    Context,
}

/// The input tag MLflow keeps a dataset's role in.
pub const DATASET_CONTEXT_TAG: &str = "mlflow.data.context";

impl DatasetField {
    /// Resolves a dataset key.
    pub fn from_name(name: &str) -> Option<DatasetField> {
        Some(match name {
            "name" => DatasetField::Name,
            "digest" => DatasetField::Digest,
            "context" => DatasetField::Context,
            _ => return None,
        })
    }
}

/// An experiment field a filter or ordering can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentField {
    /// `name`
    Name,
    /// `experiment_id`
    ExperimentId,
    /// `creation_time`
    CreationTime,
    /// `last_update_time`
    LastUpdateTime,
    /// `lifecycle_stage`
    LifecycleStage,
}

impl ExperimentField {
    /// Resolves an attribute name.
    pub fn from_name(name: &str) -> Option<ExperimentField> {
        Some(match name {
            "name" => ExperimentField::Name,
            "experiment_id" | "id" => ExperimentField::ExperimentId,
            "creation_time" | "created" => ExperimentField::CreationTime,
            "last_update_time" => ExperimentField::LastUpdateTime,
            "lifecycle_stage" => ExperimentField::LifecycleStage,
            _ => return None,
        })
    }

    /// Whether the field holds a number.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            ExperimentField::CreationTime | ExperimentField::LastUpdateTime
        )
    }
}

pub(crate) fn check_string_op(c: &Comparison) -> Result<(), FilterError> {
    let ok = matches!(
        (&c.op, &c.value),
        (Op::Eq | Op::Ne | Op::Like | Op::ILike, Value::Str(_))
            | (Op::In | Op::NotIn, Value::List(_))
    );
    if ok {
        Ok(())
    } else if matches!(c.value, Value::Number(_)) {
        Err(FilterError(format!(
            "Invalid filter '{}': {} compares strings; put the value in quotes",
            Expr::Cmp(c.clone()),
            c.ident
        )))
    } else {
        Err(FilterError(format!(
            "Invalid filter '{}': {} supports =, !=, LIKE, ILIKE, IN and NOT IN",
            Expr::Cmp(c.clone()),
            c.ident
        )))
    }
}

pub(crate) fn check_numeric_op(c: &Comparison) -> Result<(), FilterError> {
    match (&c.op, &c.value) {
        (op, Value::Number(_)) if op.is_numeric() => Ok(()),
        (op, _) if op.is_numeric() => Err(FilterError(format!(
            "Invalid filter '{}': {} is numeric; compare it with an unquoted number",
            Expr::Cmp(c.clone()),
            c.ident
        ))),
        _ => Err(FilterError(format!(
            "Invalid filter '{}': {} supports =, !=, <, <=, > and >=",
            Expr::Cmp(c.clone()),
            c.ident
        ))),
    }
}

/// Type-checks a filter for runs.
pub fn check_runs(expr: &Expr) -> Result<(), FilterError> {
    visit(expr, &mut |c| {
        match c.ident.kind {
        Kind::Metric => check_numeric_op(c),
        Kind::Param | Kind::Tag => check_string_op(c),
        Kind::Attribute => match RunField::from_name(&c.ident.key) {
            None => Err(FilterError(format!(
                "Invalid attribute key '{}': searchable attributes are run_id, run_name, status, user_id, \
                 artifact_uri, lifecycle_stage, start_time (created) and end_time",
                c.ident.key
            ))),
            Some(f) if f.is_numeric() => check_numeric_op(c),
            Some(_) => check_string_op(c),
        },
        Kind::Dataset => match DatasetField::from_name(&c.ident.key) {
            None => Err(FilterError(format!(
                "Invalid dataset key '{}': datasets can be searched by name, digest and context",
                c.ident.key
            ))),
            Some(_) => check_string_op(c),
        },
    }
    })
}

/// Type-checks a filter for experiments.
pub fn check_experiments(expr: &Expr) -> Result<(), FilterError> {
    visit(expr, &mut |c| {
        match c.ident.kind {
        Kind::Tag => check_string_op(c),
        Kind::Metric | Kind::Param | Kind::Dataset => Err(FilterError(format!(
            "Invalid filter '{}': experiments can be searched by attributes and tags only",
            Expr::Cmp(c.clone())
        ))),
        Kind::Attribute => match ExperimentField::from_name(&c.ident.key) {
            None => Err(FilterError(format!(
                "Invalid attribute key '{}': searchable experiment attributes are name, experiment_id, \
                 creation_time, last_update_time and lifecycle_stage",
                c.ident.key
            ))),
            Some(f) if f.is_numeric() => check_numeric_op(c),
            Some(_) => check_string_op(c),
        },
    }
    })
}

fn visit(
    expr: &Expr,
    f: &mut impl FnMut(&Comparison) -> Result<(), FilterError>,
) -> Result<(), FilterError> {
    match expr {
        Expr::Cmp(c) => f(c),
        Expr::And(parts) | Expr::Or(parts) => parts.iter().try_for_each(|p| visit(p, f)),
    }
}

/// SQL LIKE: `%` any run, `_` one character.
pub fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if case_insensitive {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        }
    };
    let (t, p) = (fold(text), fold(pattern));
    let (mut ti, mut pi) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '_' || p[pi] == t[ti]) {
            ti += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

/// Whether a string satisfies `op value` (MLflow's string operators).
pub(crate) fn string_matches(actual: &str, op: Op, value: &Value) -> bool {
    match (op, value) {
        (Op::Eq, Value::Str(v)) => actual == v,
        (Op::Ne, Value::Str(v)) => actual != v,
        (Op::Like, Value::Str(v)) => like(actual, v, false),
        (Op::ILike, Value::Str(v)) => like(actual, v, true),
        (Op::In, Value::List(vs)) => vs.iter().any(|v| v == actual),
        (Op::NotIn, Value::List(vs)) => vs.iter().all(|v| v != actual),
        _ => false,
    }
}

/// Whether a number satisfies `op value`.
pub(crate) fn number_matches(actual: f64, op: Op, value: &Value) -> bool {
    let Value::Number(v) = value else {
        return false;
    };
    let v = *v;
    match op {
        Op::Eq => actual == v,
        Op::Ne => actual != v,
        Op::Lt => actual < v,
        Op::Le => actual <= v,
        Op::Gt => actual > v,
        Op::Ge => actual >= v,
        _ => false,
    }
}

/// Whether a (type-checked) filter matches a run.
pub fn matches_run(expr: &Expr, run: &Run) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| matches_run(p, run)),
        Expr::Or(parts) => parts.iter().any(|p| matches_run(p, run)),
        Expr::Cmp(c) => {
            let Identifier { kind, key } = &c.ident;
            match kind {
                Kind::Metric => run
                    .metrics
                    .get(key)
                    .is_some_and(|p| number_matches(p.value, c.op, &c.value)),
                Kind::Param => run
                    .params
                    .get(key)
                    .is_some_and(|v| string_matches(v, c.op, &c.value)),
                Kind::Tag => run
                    .tags
                    .get(key)
                    .is_some_and(|v| string_matches(v, c.op, &c.value)),
                Kind::Attribute => match RunField::from_name(key) {
                    Some(RunField::StartTime) => {
                        number_matches(run.info.start_time as f64, c.op, &c.value)
                    }
                    Some(RunField::EndTime) => run
                        .info
                        .end_time
                        .is_some_and(|t| number_matches(t as f64, c.op, &c.value)),
                    Some(RunField::RunId) => {
                        string_matches(&run.info.run_id.to_string(), c.op, &c.value)
                    }
                    Some(RunField::RunName) => string_matches(&run.info.run_name, c.op, &c.value),
                    Some(RunField::Status) => {
                        string_matches(run.info.status.as_str(), c.op, &c.value)
                    }
                    Some(RunField::UserId) => string_matches(&run.info.user_id, c.op, &c.value),
                    Some(RunField::ArtifactUri) => {
                        string_matches(&run.info.artifact_uri, c.op, &c.value)
                    }
                    Some(RunField::LifecycleStage) => {
                        string_matches(run.info.lifecycle.as_str(), c.op, &c.value)
                    }
                    None => false,
                },
                // MLflow: some dataset of the run satisfies the comparison; a run without
                // datasets matches nothing (not even `!=`).
                Kind::Dataset => {
                    let field = DatasetField::from_name(key);
                    run.inputs.datasets.iter().any(|input| {
                        let value = match field {
                            Some(DatasetField::Name) => Some(input.dataset.name.as_str()),
                            Some(DatasetField::Digest) => Some(input.dataset.digest.as_str()),
                            Some(DatasetField::Context) => input
                                .tags
                                .iter()
                                .find(|(k, _)| k == DATASET_CONTEXT_TAG)
                                .map(|(_, v)| v.as_str()),
                            None => None,
                        };
                        value.is_some_and(|v| string_matches(v, c.op, &c.value))
                    })
                }
            }
        }
    }
}

/// Whether a (type-checked) filter matches an experiment.
pub fn matches_experiment(expr: &Expr, exp: &Experiment) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| matches_experiment(p, exp)),
        Expr::Or(parts) => parts.iter().any(|p| matches_experiment(p, exp)),
        Expr::Cmp(c) => match c.ident.kind {
            Kind::Tag => exp
                .tags
                .get(&c.ident.key)
                .is_some_and(|v| string_matches(v, c.op, &c.value)),
            Kind::Attribute => match ExperimentField::from_name(&c.ident.key) {
                Some(ExperimentField::Name) => string_matches(&exp.name, c.op, &c.value),
                Some(ExperimentField::ExperimentId) => {
                    string_matches(&exp.id.to_string(), c.op, &c.value)
                }
                Some(ExperimentField::LifecycleStage) => {
                    string_matches(exp.lifecycle.as_str(), c.op, &c.value)
                }
                Some(ExperimentField::CreationTime) => {
                    number_matches(exp.creation_time as f64, c.op, &c.value)
                }
                Some(ExperimentField::LastUpdateTime) => {
                    number_matches(exp.last_update_time as f64, c.op, &c.value)
                }
                None => false,
            },
            Kind::Metric | Kind::Param | Kind::Dataset => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards() {
        assert!(like("resnet-50", "res%", false));
        assert!(like("resnet-50", "%net%", false));
        assert!(like("resnet-50", "resnet-5_", false));
        assert!(!like("ResNet", "resnet", false));
        assert!(like("ResNet", "resnet", true));
        assert!(like("", "%", false));
        assert!(!like("abc", "a_", false));
        assert!(like("a%b", "a%b", false));
        assert!(like("aaa", "%a%a%a%", false));
    }

    #[test]
    fn type_checks_refuse_mismatches() {
        let check = |f: &str| check_runs(&crate::query::filter::parse(f).unwrap().unwrap());
        assert!(
            check("metrics.a > 1 AND params.p = 'x' AND attributes.status IN ('RUNNING')").is_ok()
        );
        assert!(check("metrics.a = 'x'").is_err());
        assert!(check("metrics.a LIKE 'x'").is_err());
        assert!(check("params.p > 1").is_err());
        assert!(check("params.p = 1").is_err());
        assert!(check("attributes.start_time = 'x'").is_err());
        assert!(check("attributes.nope = 'x'").is_err());
        assert!(check("params.a = 'x' OR 1 = 1").is_err());
        assert!(
            check("datasets.name = 'iris' AND datasets.context IN ('training', 'eval')").is_ok()
        );
        assert!(check("datasets.digest LIKE 'ab%'").is_ok());
        assert!(
            check("datasets.source = 'x'").is_err(),
            "not a searchable dataset key"
        );
        assert!(check("datasets.name > 1").is_err());
        let exp = |f: &str| check_experiments(&crate::query::filter::parse(f).unwrap().unwrap());
        assert!(exp("name LIKE 'a%' AND tags.team = 'x' AND creation_time > 5").is_ok());
        assert!(exp("metrics.a > 1").is_err());
        assert!(exp("datasets.name = 'iris'").is_err());
    }
}
