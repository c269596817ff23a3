//! Import records and their lifecycle:
//! `pending` -> (file uploaded) `processing` -> after 1 s (scaled) `completed` or `failed`.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::csvcheck::{self, Declared, Verdict};
use super::resource::Resource;
use crate::state::Shared;
use crate::storage::{CompletedUpload, UploadTarget};
use crate::{background, clock};

pub const PENDING: &str = "pending";
pub const PROCESSING: &str = "processing";
pub const COMPLETED: &str = "completed";
pub const FAILED: &str = "failed";

/// Where an import's file is PUT on the storage origin.
pub fn upload_path(id: &str) -> String {
    format!("/exa-websets-imports/{id}.csv")
}

pub fn now() -> String {
    clock::rfc3339_millis(clock::unix_now())
}

pub struct ExaImport {
    pub id: String,
    pub status: String,
    pub entity: Value,
    pub title: String,
    pub count: u64,
    pub size: f64,
    pub identifier: Option<f64>,
    pub metadata: Map<String, Value>,
    pub failed_reason: Option<String>,
    pub failed_at: Option<String>,
    pub failed_message: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub upload_valid_until: String,
    /// Set once a file arrived: one file per import, whatever status is forced later.
    pub uploaded: bool,
}

impl ExaImport {
    pub fn set_status(&mut self, status: &str) {
        self.status = status.to_string();
        self.updated_at = now();
    }

    pub fn declared(&self) -> Declared {
        Declared {
            size: self.size,
            count: self.count,
            custom: self.entity.get("type").and_then(Value::as_str) == Some("custom"),
            identifier: self.identifier,
        }
    }
}

/// The storage slot for an import's file.
pub struct ExaUpload {
    pub id: String,
}

const ONE_FILE: &str =
    "Access Denied: this import already received its file (one file per import).";

impl UploadTarget for ExaUpload {
    fn admit(&self, shared: &Shared) -> Result<(), String> {
        match shared.exa.imports.lock().unwrap().get(&self.id) {
            Some(r) if !r.uploaded && r.status == PENDING => Ok(()),
            Some(r) if !r.uploaded => Err(format!(
                "Access Denied: the import is {}, not pending.",
                r.status
            )),
            Some(_) => Err(ONE_FILE.into()),
            None => Err("Access Denied".into()),
        }
    }

    fn complete(&self, shared: &Arc<Shared>, upload: &CompletedUpload) -> Result<(), String> {
        let declared = {
            let mut imports = shared.exa.imports.lock().unwrap();
            match imports.get_mut(&self.id) {
                Some(r) if !r.uploaded && r.status == PENDING => {
                    r.uploaded = true;
                    r.set_status(PROCESSING);
                    r.declared()
                }
                Some(_) => return Err(ONE_FILE.into()),
                None => return Err("Access Denied".into()),
            }
        };
        start_processing(
            shared.clone(),
            self.id.clone(),
            upload.path.clone(),
            upload.size,
            declared,
        );
        Ok(())
    }
}

/// Checks the file in the background and settles the import 1 s (scaled) after the upload, or later
/// if the check itself takes longer. A status forced meanwhile through the control API, or a deleted
/// import, is left alone.
fn start_processing(
    shared: Arc<Shared>,
    id: String,
    path: PathBuf,
    actual_size: u64,
    declared: Declared,
) {
    tokio::spawn(async move {
        let settle_at = tokio::time::Instant::now() + shared.settings.scale.secs(1.0);
        let file = path.clone();
        let work = background::run_low_priority("exa-process", move || {
            csvcheck::judge(actual_size, || std::fs::read(&file), &declared)
        });
        let verdict = work.await.unwrap_or_else(|_| Verdict::Failed {
            reason: csvcheck::INVALID_FORMAT,
            message: "Internal error while processing the file.".into(),
        });
        let _ = tokio::fs::remove_file(&path).await;
        tokio::time::sleep_until(settle_at).await;
        let completed = {
            let mut imports = shared.exa.imports.lock().unwrap();
            let Some(r) = imports.get_mut(&id).filter(|r| r.status == PROCESSING) else {
                return;
            };
            match verdict {
                Verdict::Completed => {
                    r.set_status(COMPLETED);
                    Some(r.to_json())
                }
                Verdict::Failed { reason, message } => {
                    r.set_status(FAILED);
                    r.failed_reason = Some(reason.to_string());
                    r.failed_message = Some(message);
                    r.failed_at = Some(r.updated_at.clone());
                    None
                }
            }
        };
        // Exa has no failed event: a failed import is only seen by fetching it.
        if let Some(import) = completed {
            super::webhooks::emit(&shared, "import.completed", import);
        }
    });
}
