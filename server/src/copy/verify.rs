//! The verification pass: the target read back and compared with the source, record by
//! record, run fingerprint by run fingerprint, file checksum by file checksum.

use std::collections::BTreeMap;

use super::digest::Fingerprint;
use super::files::{list_files, read_file, Discard, FileHashes};
use super::records::{fingerprint, grant_resources};
use super::{blocking, CopyError, OpenedStore};
use crate::domain::RunId;

/// Mismatches named in a [`Verification`] (the rest are counted).
const NAMED_MISMATCHES: usize = 50;

/// One count, in the source and as found identical in the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    /// What is counted.
    pub what: &'static str,
    /// In the source.
    pub source: u64,
    /// In the target (for runs and files: in runs and files found identical).
    pub target: u64,
}

/// What the verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Counts on both sides.
    pub counts: Vec<Count>,
    /// Records and files that differ or are missing in the target (the first 50).
    pub mismatches: Vec<String>,
    /// How many differ or are missing.
    pub mismatch_count: u64,
}

impl Verification {
    /// True when the target holds everything the source does, identically.
    pub fn passed(&self) -> bool {
        self.mismatch_count == 0 && self.counts.iter().all(|c| c.source == c.target)
    }

    fn mismatch(&mut self, what: String) {
        self.mismatch_count += 1;
        if self.mismatches.len() < NAMED_MISMATCHES {
            self.mismatches.push(what);
        }
    }

    fn count(&mut self, what: &'static str, source: u64, target: u64) {
        self.counts.push(Count {
            what,
            source,
            target,
        });
    }
}

/// Compares the target with the source. `runs` are the source runs' fingerprints (taken as
/// they were copied); `copied_files` the source checksums of the files copied just now.
pub(super) async fn verify(
    from: &OpenedStore,
    to: &OpenedStore,
    runs: &BTreeMap<RunId, Fingerprint>,
    copied_files: &FileHashes,
) -> Result<Verification, CopyError> {
    let mut v = Verification::default();
    records(from, to, &mut v).await?;
    run_fingerprints(to, runs, &mut v).await?;
    files(from, to, copied_files, &mut v).await?;
    Ok(v)
}

/// One kind of record checked: (what, in the source, identical in the target, the names of
/// those that differ or are missing).
type Found = (&'static str, u64, u64, Vec<String>);

/// Checks each of `items` once with `same` (read from the target); names the others.
fn tally<T>(
    what: &'static str,
    items: &[T],
    same: impl Fn(&T) -> bool,
    name: impl Fn(&T) -> String,
) -> Found {
    let differ: Vec<String> = items.iter().filter(|i| !same(i)).map(name).collect();
    let n = items.len() as u64;
    (what, n, n - differ.len() as u64, differ)
}

/// Experiments, logged and registered models, users, tokens and grants: compared whole.
async fn records(
    from: &OpenedStore,
    to: &OpenedStore,
    v: &mut Verification,
) -> Result<(), CopyError> {
    let (source, target) = (from.tracking.clone(), to.tracking.clone());
    let (source_access, target_access) = (from.access.clone(), to.access.clone());
    let found = blocking("the records to verify", move || {
        let mut found: Vec<Found> = Vec::new();
        let experiments = source.experiments()?;
        found.push(tally(
            "experiments",
            &experiments,
            |e| target.experiment(e.id).is_ok_and(|t| t == *e),
            |e| format!("experiment {} '{}'", e.id, e.name),
        ));
        let ids: Vec<_> = experiments.iter().map(|e| e.id).collect();
        let models = source.logged_models(&ids)?;
        found.push(tally(
            "logged models",
            &models,
            |m| target.logged_model(m.id).is_ok_and(|t| t == **m),
            |m| format!("logged model {}", m.id),
        ));

        let registered = source.registered_models()?;
        let mut differ = Vec::new();
        let (mut versions, mut same_versions) = (0u64, 0u64);
        for m in &registered {
            versions += m.versions.len() as u64;
            match target.registered_model(&m.name) {
                Ok(t) if t == **m => same_versions += m.versions.len() as u64,
                _ => differ.push(format!("registered model '{}'", m.name)),
            }
        }
        let n = registered.len() as u64;
        found.push(("registered models", n, n - differ.len() as u64, differ));
        found.push(("model versions", versions, same_versions, Vec::new()));

        let users = source_access.users()?;
        found.push(tally(
            "users",
            &users,
            |u| {
                target_access
                    .user(&u.name)
                    .is_ok_and(|t| t.as_ref() == Some(u))
            },
            |u| format!("user '{}'", u.name),
        ));
        let mut tokens = Vec::new();
        for user in &users {
            tokens.extend(source_access.tokens_of(&user.name)?);
        }
        found.push(tally(
            "API tokens",
            &tokens,
            |k| {
                target_access
                    .token(&k.id)
                    .is_ok_and(|t| t.as_ref() == Some(k))
            },
            |k| format!("token {}", k.id),
        ));
        let resources = grant_resources(&ids, &registered);
        let (mut grants, mut differ) = (0u64, Vec::new());
        for resource in resources {
            for (user, level) in source_access.grants_on(&resource)? {
                grants += 1;
                if !target_access
                    .grant(&resource, &user)
                    .is_ok_and(|t| t == Some(level))
                {
                    differ.push(format!("grant of {resource:?} to '{user}'"));
                }
            }
        }
        found.push(("grants", grants, grants - differ.len() as u64, differ));
        Ok(found)
    })
    .await?;
    for (what, source, target, differ) in found {
        v.count(what, source, target);
        for d in differ {
            v.mismatch(format!("{d} differs or is missing"));
        }
    }
    Ok(())
}

/// Every run's fingerprint read back from the target.
async fn run_fingerprints(
    to: &OpenedStore,
    runs: &BTreeMap<RunId, Fingerprint>,
    v: &mut Verification,
) -> Result<(), CopyError> {
    let mut source = Fingerprint::default();
    let mut target = Fingerprint::default();
    let (mut same_runs, mut total) = (0u64, 0u64);
    for (id, ours) in runs {
        total += 1;
        add(&mut source, ours);
        let backend = to.tracking.clone();
        let id = *id;
        let held = tokio::task::spawn_blocking(move || backend.run(id))
            .await
            .ok()
            .and_then(Result::ok);
        let Some(held) = held else {
            v.mismatch(format!("run {id} is missing"));
            continue;
        };
        let theirs = fingerprint(&to.tracking, &held).await?;
        if theirs.sha256 == ours.sha256 {
            same_runs += 1;
            add(&mut target, &theirs);
        } else {
            v.mismatch(format!("run {id} differs (fingerprint)"));
        }
    }
    v.count("runs", total, same_runs);
    v.count("params", source.params, target.params);
    v.count("tags", source.tags, target.tags);
    v.count("metric series", source.series, target.series);
    v.count("metric points", source.points, target.points);
    v.count(
        "dataset inputs",
        source.dataset_inputs,
        target.dataset_inputs,
    );
    Ok(())
}

fn add(sum: &mut Fingerprint, one: &Fingerprint) {
    sum.params += one.params;
    sum.tags += one.tags;
    sum.series += one.series;
    sum.points += one.points;
    sum.dataset_inputs += one.dataset_inputs;
}

/// Every file's SHA-256 on both sides.
async fn files(
    from: &OpenedStore,
    to: &OpenedStore,
    copied: &FileHashes,
    v: &mut Verification,
) -> Result<(), CopyError> {
    let read_err = |what: String| move |source| CopyError::Read { what, source };
    let files = list_files(&from.artifacts)
        .await
        .map_err(read_err("the artifact listing".into()))?;
    let (mut bytes, mut same_files, mut same_bytes) = (0u64, 0u64, 0u64);
    for (path, size) in &files {
        bytes += size;
        let shown = format!("{}/{}", path.0, path.1);
        let ours = match copied.get(path) {
            Some(sha) => *sha,
            None => read_file(&from.artifacts, path, Discard)
                .await
                .map_err(read_err(format!("artifact {shown}")))?,
        };
        let theirs = read_file(&to.artifacts, path, Discard).await;
        match theirs {
            Ok(sha) if sha == ours => {
                same_files += 1;
                same_bytes += size;
            }
            Ok(_) => v.mismatch(format!("artifact {shown} differs (SHA-256)")),
            Err(_) => v.mismatch(format!("artifact {shown} is missing")),
        }
    }
    v.count("artifact files", files.len() as u64, same_files);
    v.count("artifact bytes", bytes, same_bytes);
    Ok(())
}
