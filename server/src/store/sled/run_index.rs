//! The column index behind run search: every run gets a dense slot, and each metric, param
//! and tag key gets a column of `slot → value`. A filter clause scans one column (contiguous
//! memory, no per-run pointer chasing) into a bitset of slots; AND and OR combine bitsets.
//! Param and tag values are interned per key, so a clause is decided once per distinct value
//! (`params.optimizer = 'adam'` compares one string, not one per run).
//!
//! Attribute clauses (`attributes.status`, `run_name`, …) are evaluated per run with
//! [`eval::matches_run`], which stays the reference semantics: an index answer must equal
//! evaluating the filter on every run (a property test checks it).

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::domain::{ExperimentId, Lifecycle, Run, RunId, ViewType};
use crate::query::eval;
use crate::query::filter::{Comparison, Expr, Kind};

/// A set of slots.
#[derive(Debug, Clone, PartialEq)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn empty(len: usize) -> Self {
        Bitset(vec![0; len.div_ceil(64)])
    }

    fn full(len: usize) -> Self {
        let mut words = vec![u64::MAX; len.div_ceil(64)];
        if !len.is_multiple_of(64) {
            if let Some(last) = words.last_mut() {
                *last = (1u64 << (len % 64)) - 1;
            }
        }
        Bitset(words)
    }

    fn set(&mut self, slot: u32) {
        self.0[slot as usize / 64] |= 1 << (slot % 64);
    }

    fn and(&mut self, other: &Bitset) {
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a &= b);
    }

    fn or(&mut self, other: &Bitset) {
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a |= b);
    }

    fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &word)| {
            let mut w = word;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let bit = w.trailing_zeros();
                w &= w - 1;
                Some(i as u32 * 64 + bit)
            })
        })
    }
}

/// Interned string values of one param or tag key.
#[derive(Default)]
struct StringColumn {
    /// Distinct values with their reference counts; a count of 0 marks a free id.
    values: Vec<(String, u32)>,
    ids: FxHashMap<String, u32>,
    free: Vec<u32>,
    by_slot: FxHashMap<u32, u32>,
}

impl StringColumn {
    fn insert(&mut self, slot: u32, value: &str) {
        let id = match self.ids.get(value) {
            Some(&id) => id,
            None => {
                let id = match self.free.pop() {
                    Some(id) => {
                        self.values[id as usize] = (value.to_owned(), 0);
                        id
                    }
                    None => {
                        self.values.push((value.to_owned(), 0));
                        (self.values.len() - 1) as u32
                    }
                };
                self.ids.insert(value.to_owned(), id);
                id
            }
        };
        self.values[id as usize].1 += 1;
        if let Some(old) = self.by_slot.insert(slot, id) {
            self.release(old);
        }
    }

    fn remove(&mut self, slot: u32) {
        if let Some(id) = self.by_slot.remove(&slot) {
            self.release(id);
        }
    }

    fn release(&mut self, id: u32) {
        let entry = &mut self.values[id as usize];
        entry.1 -= 1;
        if entry.1 == 0 {
            self.ids.remove(&entry.0);
            entry.0 = String::new();
            self.free.push(id);
        }
    }

    fn is_empty(&self) -> bool {
        self.by_slot.is_empty()
    }
}

/// Per-slot facts every search checks, kept contiguous.
#[derive(Clone, Copy)]
struct Meta {
    experiment: ExperimentId,
    lifecycle: Lifecycle,
}

/// Runs by slot, with the columns of their latest metrics, params and tags.
#[derive(Default)]
pub(crate) struct RunIndex {
    slots: FxHashMap<RunId, u32>,
    rows: Vec<Option<(Meta, Arc<Run>)>>,
    free: Vec<u32>,
    metrics: FxHashMap<String, FxHashMap<u32, f64>>,
    params: FxHashMap<String, StringColumn>,
    tags: FxHashMap<String, StringColumn>,
}

impl RunIndex {
    /// Adds or replaces a run. A replacement (the committer refreshes a run after every
    /// write, so this is on the ingest path) touches only what changed: metric values are
    /// overwritten in place, and params and tags are re-indexed only when they differ.
    pub fn upsert(&mut self, run: Arc<Run>) {
        let (slot, old) = match self.slots.get(&run.info.run_id) {
            Some(&slot) => (slot, self.rows[slot as usize].take().map(|(_, r)| r)),
            None => {
                let slot = self.free.pop().unwrap_or_else(|| {
                    self.rows.push(None);
                    (self.rows.len() - 1) as u32
                });
                self.slots.insert(run.info.run_id, slot);
                (slot, None)
            }
        };
        if let Some(old) = &old {
            let stale = old.metrics.keys().filter(|k| !run.metrics.contains_key(*k));
            unindex_metrics(&mut self.metrics, stale, slot);
        }
        for (key, point) in &run.metrics {
            match self.metrics.get_mut(key) {
                Some(column) => {
                    column.insert(slot, point.value);
                }
                None => {
                    let mut column = FxHashMap::default();
                    column.insert(slot, point.value);
                    self.metrics.insert(key.clone(), column);
                }
            }
        }
        if old.as_ref().is_none_or(|o| o.params != run.params) {
            if let Some(o) = &old {
                unindex_strings(&mut self.params, &o.params, slot);
            }
            index_strings(&mut self.params, &run.params, slot);
        }
        if old.as_ref().is_none_or(|o| o.tags != run.tags) {
            if let Some(o) = &old {
                unindex_strings(&mut self.tags, &o.tags, slot);
            }
            index_strings(&mut self.tags, &run.tags, slot);
        }
        let meta = Meta {
            experiment: run.info.experiment_id,
            lifecycle: run.info.lifecycle,
        };
        self.rows[slot as usize] = Some((meta, run));
    }

    /// Removes a run (a no-op for an unknown one).
    pub fn remove(&mut self, id: RunId) {
        let Some(slot) = self.slots.remove(&id) else {
            return;
        };
        if let Some((_, old)) = self.rows[slot as usize].take() {
            unindex_metrics(&mut self.metrics, old.metrics.keys(), slot);
            unindex_strings(&mut self.params, &old.params, slot);
            unindex_strings(&mut self.tags, &old.tags, slot);
        }
        self.free.push(slot);
    }

    /// Runs of `experiments` visible in `view` that match `filter` (type-checked), in no
    /// particular order.
    pub fn search(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        filter: Option<&Expr>,
    ) -> Vec<Arc<Run>> {
        let keep = |slot: u32| -> Option<Arc<Run>> {
            let (meta, run) = self.rows[slot as usize].as_ref()?;
            (experiments.contains(&meta.experiment) && view.includes(meta.lifecycle))
                .then(|| run.clone())
        };
        match filter {
            None => (0..self.rows.len() as u32).filter_map(keep).collect(),
            Some(expr) => self.eval(expr).slots().filter_map(keep).collect(),
        }
    }

    fn eval(&self, expr: &Expr) -> Bitset {
        match expr {
            Expr::And(parts) => {
                let mut acc = Bitset::full(self.rows.len());
                for part in parts {
                    acc.and(&self.eval(part));
                }
                acc
            }
            Expr::Or(parts) => {
                let mut acc = Bitset::empty(self.rows.len());
                for part in parts {
                    acc.or(&self.eval(part));
                }
                acc
            }
            Expr::Cmp(c) => self.eval_comparison(expr, c),
        }
    }

    fn eval_comparison(&self, expr: &Expr, c: &Comparison) -> Bitset {
        let mut hits = Bitset::empty(self.rows.len());
        match c.ident.kind {
            Kind::Metric => {
                for (&slot, &value) in self.metrics.get(&c.ident.key).into_iter().flatten() {
                    if eval::number_matches(value, c.op, &c.value) {
                        hits.set(slot);
                    }
                }
            }
            Kind::Param | Kind::Tag => {
                let columns = if c.ident.kind == Kind::Param {
                    &self.params
                } else {
                    &self.tags
                };
                if let Some(column) = columns.get(&c.ident.key) {
                    let decided: Vec<bool> = column
                        .values
                        .iter()
                        .map(|(value, refs)| {
                            *refs > 0 && eval::string_matches(value, c.op, &c.value)
                        })
                        .collect();
                    for (&slot, &id) in &column.by_slot {
                        if decided[id as usize] {
                            hits.set(slot);
                        }
                    }
                }
            }
            // Not indexed: checked run by run with the reference semantics.
            Kind::Attribute | Kind::Dataset => {
                for (slot, row) in self.rows.iter().enumerate() {
                    if let Some((_, run)) = row {
                        if eval::matches_run(expr, run) {
                            hits.set(slot as u32);
                        }
                    }
                }
            }
        }
        hits
    }
}

/// Drops a slot's values of these metric keys, and columns left empty.
fn unindex_metrics<'a>(
    columns: &mut FxHashMap<String, FxHashMap<u32, f64>>,
    keys: impl Iterator<Item = &'a String>,
    slot: u32,
) {
    for key in keys {
        if let Some(column) = columns.get_mut(key) {
            column.remove(&slot);
            if column.is_empty() {
                columns.remove(key);
            }
        }
    }
}

/// Adds a slot's param or tag values to their columns.
fn index_strings(
    columns: &mut FxHashMap<String, StringColumn>,
    values: &std::collections::BTreeMap<String, String>,
    slot: u32,
) {
    for (key, value) in values {
        match columns.get_mut(key) {
            Some(column) => column.insert(slot, value),
            None => {
                let mut column = StringColumn::default();
                column.insert(slot, value);
                columns.insert(key.clone(), column);
            }
        }
    }
}

/// Drops a slot's param or tag values, and columns left empty.
fn unindex_strings(
    columns: &mut FxHashMap<String, StringColumn>,
    values: &std::collections::BTreeMap<String, String>,
    slot: u32,
) {
    for key in values.keys() {
        if let Some(column) = columns.get_mut(key) {
            column.remove(slot);
            if column.is_empty() {
                columns.remove(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::domain::{Point, RunInfo, RunStatus};
    use crate::query::filter;

    fn run(n: u8, metrics: &[(&str, f64)], params: &[(&str, &str)], tags: &[(&str, &str)]) -> Run {
        Run {
            info: RunInfo {
                run_id: RunId([n; 16]),
                experiment_id: ExperimentId(u64::from(n % 2)),
                run_name: format!("run-{n}"),
                user_id: String::new(),
                status: if n.is_multiple_of(3) {
                    RunStatus::Finished
                } else {
                    RunStatus::Running
                },
                start_time: i64::from(n),
                end_time: None,
                artifact_uri: String::new(),
                lifecycle: if n % 5 == 4 {
                    Lifecycle::Deleted
                } else {
                    Lifecycle::Active
                },
            },
            metrics: metrics
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Point {
                            step: 0,
                            timestamp: 0,
                            value: *v,
                        },
                    )
                })
                .collect(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            inputs: Default::default(),
            outputs: Vec::new(),
        }
    }

    const KEYS: [&str; 3] = ["a", "b", "c"];
    const VALUES: [&str; 4] = ["x", "y", "xy", "Z"];

    fn arb_run(n: u8) -> impl Strategy<Value = Run> {
        (
            proptest::collection::vec((0..3usize, -2.0..2.0f64), 0..3),
            proptest::collection::vec((0..3usize, 0..4usize), 0..3),
            proptest::collection::vec((0..3usize, 0..4usize), 0..3),
        )
            .prop_map(move |(m, p, t)| {
                let m: Vec<(&str, f64)> = m.iter().map(|&(k, v)| (KEYS[k], v.round())).collect();
                let p: Vec<(&str, &str)> = p.iter().map(|&(k, v)| (KEYS[k], VALUES[v])).collect();
                let t: Vec<(&str, &str)> = t.iter().map(|&(k, v)| (KEYS[k], VALUES[v])).collect();
                run(n, &m, &p, &t)
            })
    }

    fn arb_filter() -> impl Strategy<Value = String> {
        let clause = prop_oneof![
            (
                0..3usize,
                prop_oneof![Just(">"), Just("<="), Just("="), Just("!=")],
                -2..3i32
            )
                .prop_map(|(k, op, v)| format!("metrics.{} {op} {v}", KEYS[k])),
            (
                prop_oneof![Just("params"), Just("tags")],
                0..3usize,
                prop_oneof![Just("="), Just("!="), Just("LIKE"), Just("ILIKE")],
                prop_oneof![Just("x"), Just("x%"), Just("z"), Just("%y")],
            )
                .prop_map(|(kind, k, op, v)| format!("{kind}.{} {op} '{v}'", KEYS[k])),
            (prop_oneof![Just("params"), Just("tags")], 0..3usize)
                .prop_map(|(kind, k)| format!("{kind}.{} IN ('x', 'Z')", KEYS[k])),
            Just("attributes.status = 'FINISHED'".to_owned()),
            Just("attributes.start_time > 3".to_owned()),
        ];
        proptest::collection::vec((clause, prop_oneof![Just(" AND "), Just(" OR ")]), 1..4)
            .prop_map(|parts| {
                let mut out = String::new();
                for (i, (c, joint)) in parts.iter().enumerate() {
                    if i > 0 {
                        out.push_str(joint);
                    }
                    out.push('(');
                    out.push_str(c);
                    out.push(')');
                }
                out
            })
    }

    proptest! {
        /// The index answers exactly what evaluating the filter on every run answers, also
        /// after runs are replaced and removed.
        #[test]
        fn index_agrees_with_per_run_evaluation(
            first in (0u8..12).map(arb_run).collect::<Vec<_>>(),
            replaced in (0u8..12).prop_flat_map(arb_run),
            removed in 0u8..12,
            query in arb_filter(),
        ) {
            let expr = filter::parse(&query).unwrap().unwrap();
            eval::check_runs(&expr).unwrap();
            let mut index = RunIndex::default();
            let mut all: BTreeMap<RunId, Arc<Run>> = BTreeMap::new();
            for r in first {
                let r = Arc::new(r);
                all.insert(r.info.run_id, r.clone());
                index.upsert(r);
            }
            let replaced = Arc::new(replaced);
            all.insert(replaced.info.run_id, replaced.clone());
            index.upsert(replaced);
            all.remove(&RunId([removed; 16]));
            index.remove(RunId([removed; 16]));
            for view in [ViewType::ActiveOnly, ViewType::All] {
                let experiments = [ExperimentId(0), ExperimentId(1)];
                let mut got: Vec<RunId> = index
                    .search(&experiments, view, Some(&expr))
                    .iter()
                    .map(|r| r.info.run_id)
                    .collect();
                got.sort();
                let want: Vec<RunId> = all
                    .values()
                    .filter(|r| view.includes(r.info.lifecycle) && eval::matches_run(&expr, r))
                    .map(|r| r.info.run_id)
                    .collect();
                prop_assert_eq!(got, want, "filter {}", query);
            }
        }
    }

    #[test]
    fn interned_values_are_released() {
        let mut index = RunIndex::default();
        index.upsert(Arc::new(run(1, &[], &[("p", "old")], &[])));
        index.upsert(Arc::new(run(1, &[], &[("p", "new")], &[])));
        let column = &index.params["p"];
        assert_eq!(column.ids.len(), 1, "the replaced value is gone");
        assert!(column.ids.contains_key("new"));
        index.remove(RunId([1; 16]));
        assert!(index.params.is_empty() && index.metrics.is_empty());
    }

    #[test]
    fn bitset_slots() {
        let mut b = Bitset::empty(130);
        for s in [0, 63, 64, 129] {
            b.set(s);
        }
        assert_eq!(b.slots().collect::<Vec<_>>(), vec![0, 63, 64, 129]);
        assert_eq!(Bitset::full(130).slots().count(), 130);
    }
}
