//! Import records and their lifecycle: AWAITING_UPLOAD -> PENDING -> RUNNING -> final status.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};

use super::process::{self, Input, Plan};
use crate::state::Shared;
use crate::storage::{CompletedUpload, UploadTarget};
use crate::{background, clock};

pub const AWAITING_UPLOAD: &str = "AWAITING_UPLOAD";
pub const PENDING: &str = "PENDING";
pub const RUNNING: &str = "RUNNING";
pub const SUCCESSFUL: &str = "SUCCESSFUL";
pub const NEEDS_REVIEW: &str = "NEEDS_REVIEW";
pub const FAILED: &str = "FAILED";

/// Bucket names mirror Dromo's (`dromo-headless-imports` for uploads, `dromo-user-imports` for results).
pub fn upload_path(id: &str) -> String {
    format!("/dromo-headless-imports/{id}.csv")
}

pub fn result_path(id: &str) -> String {
    format!("/dromo-user-imports/{id}.json")
}

pub struct ImportRecord {
    pub id: String,
    pub schema_id: String,
    pub original_filename: Option<String>,
    pub status: String,
    pub created_date: String,
    pub modified_date: String,
    pub upload: Option<String>,
    pub review_url: String,
    pub result_metadata: Value,
    pub import_errors: Value,
    pub plan: Arc<Plan>,
    /// The merged settings and hooks, kept only so tests can inspect the merge (hooks never run).
    pub settings: serde_json::Map<String, Value>,
    pub hooks: serde_json::Map<String, Value>,
    /// `import_metadata` as created, kept only so tests can inspect it (the API never shows it).
    pub import_metadata: Value,
    /// Whether a result file was published (SUCCESSFUL, or NEEDS_REVIEW awaiting a "review").
    pub has_result: bool,
}

impl ImportRecord {
    pub fn set_status(&mut self, status: &str) {
        self.status = status.to_string();
        self.modified_date = clock::rfc3339_micros(clock::unix_now());
    }

    /// `HeadlessImport`, the list endpoint's item shape.
    pub fn summary(&self) -> Value {
        json!({
            "id": self.id,
            "schema_id": self.schema_id,
            "status": self.status,
            "original_filename": self.original_filename,
            "created_date": self.created_date,
            "modified_date": self.modified_date,
        })
    }

    /// `HeadlessImportFull`.
    pub fn full(&self) -> Value {
        let mut v = self.summary();
        let obj = v.as_object_mut().expect("object");
        obj.insert("upload".into(), json!(self.upload));
        obj.insert("review_url".into(), json!(self.review_url));
        obj.insert("result_metadata".into(), self.result_metadata.clone());
        obj.insert("import_errors".into(), self.import_errors.clone());
        v
    }
}

/// Insertion-ordered so the list endpoint can page newest-first without sorting timestamps.
#[derive(Default)]
pub struct Imports {
    by_id: HashMap<String, ImportRecord>,
    order: Vec<String>,
}

impl Imports {
    pub fn insert(&mut self, record: ImportRecord) {
        self.order.push(record.id.clone());
        self.by_id.insert(record.id.clone(), record);
    }

    pub fn get(&self, id: &str) -> Option<&ImportRecord> {
        self.by_id.get(id)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut ImportRecord> {
        self.by_id.get_mut(id)
    }

    /// Forgets an import (`DELETE`); processing still running finds it gone and stops there.
    pub fn remove(&mut self, id: &str) -> Option<ImportRecord> {
        let record = self.by_id.remove(id)?;
        self.order.retain(|o| o != id);
        Some(record)
    }

    pub fn count(&self) -> usize {
        self.order.len()
    }

    pub fn newest_first(&self) -> impl Iterator<Item = &ImportRecord> {
        self.order.iter().rev().filter_map(|id| self.by_id.get(id))
    }
}

/// The storage slot for an import's file.
pub struct ImportUpload {
    pub id: String,
}

impl UploadTarget for ImportUpload {
    fn admit(&self, shared: &Shared) -> Result<(), String> {
        let imports = shared.dromo.imports.lock().unwrap();
        match imports.get(&self.id).map(|r| r.status.as_str()) {
            Some(AWAITING_UPLOAD) => Ok(()),
            Some(_) => Err(
                "Access Denied: this import already received its file (one file per import)."
                    .into(),
            ),
            None => Err("Access Denied".into()),
        }
    }

    fn complete(&self, shared: &Arc<Shared>, upload: &CompletedUpload) -> Result<(), String> {
        let name;
        {
            let mut imports = shared.dromo.imports.lock().unwrap();
            name = imports
                .get(&self.id)
                .and_then(|r| r.original_filename.clone());
            match imports.get_mut(&self.id) {
                Some(r) if r.status == AWAITING_UPLOAD => r.set_status(PENDING),
                Some(_) => return Err(
                    "Access Denied: this import already received its file (one file per import)."
                        .into(),
                ),
                None => return Err("Access Denied".into()),
            }
        }
        start_processing(
            shared.clone(),
            self.id.clone(),
            Input::file(upload.path.clone(), name.as_deref()),
        );
        Ok(())
    }
}

/// Runs the import in the background: RUNNING after 1 s and the final status after 2 s (both scaled),
/// or later if the work itself takes longer. Statuses changed meanwhile through the control API are
/// left alone, so a test can force an unknown status without the pipeline undoing it.
pub fn start_processing(shared: Arc<Shared>, id: String, input: Input) {
    tokio::spawn(async move {
        let started = tokio::time::Instant::now();
        let scale = shared.settings.scale;
        let Some(plan) = shared
            .dromo
            .imports
            .lock()
            .unwrap()
            .get(&id)
            .map(|r| r.plan.clone())
        else {
            return;
        };
        let upload_file = input.path().cloned();
        let out = shared
            .storage
            .results_dir()
            .join(format!("dromo-{id}.json"));
        let work =
            background::run_low_priority("dromo-process", move || process::run(&plan, input, &out));
        tokio::time::sleep(scale.secs(1.0)).await;
        if let Some(r) = shared.dromo.imports.lock().unwrap().get_mut(&id) {
            if r.status == PENDING {
                r.set_status(RUNNING);
            }
        }
        let outcome = work.await.unwrap_or_else(|_| process::Outcome {
            verdict: process::Verdict::Failed,
            errors: Some(vec![
                json!({ "message": "Internal error while processing the file." }),
            ]),
            metadata: None,
            result: None,
        });
        if let Some(path) = upload_file {
            let _ = tokio::fs::remove_file(path).await;
        }
        tokio::time::sleep_until(started + scale.secs(2.0)).await;

        let still_here = shared
            .dromo
            .imports
            .lock()
            .unwrap()
            .get(&id)
            .is_some_and(|r| r.status == PENDING || r.status == RUNNING);
        if let Some(result) = &outcome.result {
            if still_here {
                shared
                    .storage
                    .put_object(&result_path(&id), result.clone(), "application/json");
            } else {
                let _ = tokio::fs::remove_file(result).await;
            }
        }
        if let Some(r) = shared.dromo.imports.lock().unwrap().get_mut(&id) {
            if r.status == PENDING || r.status == RUNNING {
                r.import_errors = json!(outcome.errors);
                r.result_metadata = json!(outcome.metadata);
                r.has_result = outcome.result.is_some();
                r.set_status(outcome.verdict.status());
                // Under the lock, so the event describes exactly this status change.
                super::webhooks::emit(&shared, r);
            }
        }
    });
}
