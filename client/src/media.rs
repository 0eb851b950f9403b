//! MLflow's artifact helpers for images, figures and tables, with MLflow's layouts so
//! MLflow's UI and trackd's show them: step-indexed images under `images/`, tables as
//! pandas' `split` JSON with the run's `mlflow.loggedArtifacts` tag.

use crate::error::{ClientError, Result};

/// The tag MLflow sets on a run with step-indexed images.
pub const LOGGED_IMAGES_TAG: &str = "mlflow.loggedImages";
/// The tag listing a run's tables (`[{"path": …, "type": "table"}]`).
pub const LOGGED_ARTIFACTS_TAG: &str = "mlflow.loggedArtifacts";

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl crate::RunHandle {
    /// Logs a PNG image at a training step under `key` (MLflow's `log_image(image, key=…,
    /// step=…)`): `images/<key>+step+<step>+timestamp+<ms>+<uuid>.png`, the copy MLflow's UI
    /// shows as `…+compressed.webp` (the same PNG bytes: this client has no image codec,
    /// and browsers draw an image by its content), and the run tag `mlflow.loggedImages`.
    /// Returns the PNG's artifact path. Keys take alphanumerics, `_ - . /` and spaces (`/`
    /// becomes `~` in the file name).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let run = client.start_run().start().await?;
    /// # let png: &[u8] = b"\x89PNG\r\n\x1a\n(a rendered image)";
    /// let path = run.log_image(png, "samples/digits", 3).await?;
    /// assert!(path.starts_with("images/samples~digits+step+3+timestamp+"));
    /// assert!(path.ends_with(".png"));
    /// let files = run.list_artifacts("images", false).await?;
    /// assert_eq!(files.len(), 2); // the image and its display copy
    /// assert_eq!(client.get_run(run.id()).await?.data.tags["mlflow.loggedImages"], "True");
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_image(&self, png: &[u8], key: &str, step: i64) -> Result<String> {
        if !png.starts_with(PNG_MAGIC) {
            return Err(ClientError::Usage(
                "log_image takes PNG bytes (they start with the PNG signature); save other \
                 formats with log_figure"
                    .into(),
            ));
        }
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-./ ".contains(c))
        {
            return Err(ClientError::Usage(format!(
                "image key '{key}' may only contain alphanumerics, '_', '-', '.', '/' and spaces"
            )));
        }
        let base = format!(
            "images/{}+step+{step}+timestamp+{}+{}",
            key.replace('/', "~"),
            now_ms(),
            uuid::Uuid::new_v4()
        );
        let path = format!("{base}.png");
        self.log_bytes(png, &path).await?;
        self.log_bytes(png, &format!("{base}+compressed.webp"))
            .await?;
        self.set_tag(LOGGED_IMAGES_TAG, "True").await?;
        Ok(path)
    }

    /// Saves a rendered figure or image (PNG, JPEG, SVG, PDF, HTML bytes from a plotting
    /// library) as `artifact_file` (MLflow's `log_figure` / `log_image(artifact_file=…)`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// let run = client.start_run().start().await?;
    /// let svg = r#"<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>"#;
    /// run.log_figure(svg.as_bytes(), "plots/loss.svg").await?;
    /// assert_eq!(run.list_artifacts("plots", false).await?[0].path, "plots/loss.svg");
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_figure(&self, figure: &[u8], artifact_file: &str) -> Result<()> {
        self.log_bytes(figure, artifact_file).await
    }

    /// Logs a table as `artifact_file` (a `.json` file) in MLflow's format (pandas' `split`
    /// orientation: `{"columns": [...], "data": [[...], ...]}`), appending the rows when the
    /// file exists with the same columns (as MLflow does), and lists it in the run tag
    /// `mlflow.loggedArtifacts` so MLflow's UI shows it as a table.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> trackd_client::Result<()> {
    /// # let store = tempfile::tempdir()?;
    /// # let client = trackd_client::Client::connect(store.path().to_str().unwrap()).await?;
    /// use serde_json::json;
    /// let run = client.start_run().start().await?;
    /// run.log_table(&["prompt", "score"], vec![vec![json!("hi"), json!(0.9)]], "eval.json").await?;
    /// run.log_table(&["prompt", "score"], vec![vec![json!("bye"), json!(0.4)]], "eval.json").await?;
    /// let dir = store.path().join("dl");
    /// let local = run.download_artifacts("eval.json", &dir).await?;
    /// let table: serde_json::Value = serde_json::from_slice(&std::fs::read(local)?).unwrap();
    /// assert_eq!(table, json!({"columns": ["prompt", "score"], "data": [["hi", 0.9], ["bye", 0.4]]}));
    /// let tag = &client.get_run(run.id()).await?.data.tags["mlflow.loggedArtifacts"];
    /// assert_eq!(tag, r#"[{"path":"eval.json","type":"table"}]"#);
    /// # run.finish().await?;
    /// # Ok(()) }
    /// ```
    pub async fn log_table(
        &self,
        columns: &[&str],
        rows: Vec<Vec<serde_json::Value>>,
        artifact_file: &str,
    ) -> Result<()> {
        if !artifact_file.ends_with(".json") {
            return Err(ClientError::Usage(format!(
                "a table is saved as a .json file (MLflow's format); got '{artifact_file}'"
            )));
        }
        if let Some(bad) = rows.iter().find(|r| r.len() != columns.len()) {
            return Err(ClientError::Usage(format!(
                "a row has {} values for {} columns",
                bad.len(),
                columns.len()
            )));
        }
        let mut data = Vec::new();
        let exists = self
            .list_artifacts(artifact_file, false)
            .await?
            .iter()
            .any(|f| f.path == artifact_file && !f.is_dir);
        if exists {
            let staging = crate::artifacts::Staging::new()?;
            let local = self
                .download_artifacts(artifact_file, staging.path())
                .await?;
            let old: serde_json::Value = serde_json::from_slice(&std::fs::read(local)?)
                .map_err(|e| ClientError::Usage(format!("{artifact_file} is not a table: {e}")))?;
            let same = old["columns"].as_array().is_some_and(|c| {
                c.iter()
                    .map(|v| v.as_str())
                    .eq(columns.iter().map(|c| Some(*c)))
            });
            if !same {
                return Err(ClientError::Usage(format!(
                    "{artifact_file} exists with other columns ({}); log the rows under its columns or to another file",
                    old["columns"]
                )));
            }
            data.extend(old["data"].as_array().cloned().unwrap_or_default());
        }
        data.extend(rows.into_iter().map(serde_json::Value::from));
        let table = serde_json::json!({"columns": columns, "data": data});
        self.log_bytes(table.to_string().as_bytes(), artifact_file)
            .await?;
        let run = self.client().get_run(self.id()).await?;
        let mut listed: Vec<serde_json::Value> = run
            .data
            .tags
            .get(LOGGED_ARTIFACTS_TAG)
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let entry = serde_json::json!({"path": artifact_file, "type": "table"});
        if !listed.contains(&entry) {
            listed.push(entry);
            self.set_tag(LOGGED_ARTIFACTS_TAG, serde_json::Value::from(listed))
                .await?;
        }
        Ok(())
    }
}
