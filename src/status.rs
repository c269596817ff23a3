//! What an import status means for a waiting caller. Statuses are an open set: the guide adds
//! PENDING to the OpenAPI enum and providers add new ones, so anything unknown means "still going".

/// Where an import stands, from the point of view of someone waiting for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Not final yet (includes every status we do not know).
    InProgress,
    /// Results are ready.
    Succeeded,
    /// A person must finish it at `review_url`.
    NeedsReview,
    /// Final failure.
    Failed,
}

/// Dromo's statuses.
pub fn dromo_stage(status: &str) -> Stage {
    match status {
        "SUCCESSFUL" => Stage::Succeeded,
        "NEEDS_REVIEW" => Stage::NeedsReview,
        "FAILED" => Stage::Failed,
        _ => Stage::InProgress,
    }
}

/// Exa's statuses. `canceled` (added by a newer doc page) is final: waiting on would never end.
pub fn exa_stage(status: &str) -> Stage {
    match status {
        "completed" => Stage::Succeeded,
        "failed" | "canceled" | "cancelled" => Stage::Failed,
        _ => Stage::InProgress,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dromo_statuses() {
        assert_eq!(dromo_stage("SUCCESSFUL"), Stage::Succeeded);
        assert_eq!(dromo_stage("NEEDS_REVIEW"), Stage::NeedsReview);
        assert_eq!(dromo_stage("FAILED"), Stage::Failed);
        for s in [
            "AWAITING_UPLOAD",
            "PENDING",
            "RUNNING",
            "SOMETHING_NEW",
            "",
            "successful",
        ] {
            assert_eq!(dromo_stage(s), Stage::InProgress, "{s}");
        }
    }

    #[test]
    fn exa_statuses() {
        assert_eq!(exa_stage("completed"), Stage::Succeeded);
        assert_eq!(exa_stage("failed"), Stage::Failed);
        assert_eq!(exa_stage("canceled"), Stage::Failed);
        for s in ["pending", "processing", "paused", "", "COMPLETED"] {
            assert_eq!(exa_stage(s), Stage::InProgress, "{s}");
        }
    }
}
