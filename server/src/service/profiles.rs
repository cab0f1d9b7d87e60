//! Profiles and their memory, and workflows: the reusable parts a session can start from.

use std::path::Path;

use arbor_protocol::{
    MemoryRestoreParams, NoParams, ProfileListResult, ProfileMemoryParams, ProfileMemoryResult, WorkflowListParams,
    WorkflowListResult,
};

use super::{Result, Service, workflows};
use crate::git;

impl Service {
    /// `workflow/list`.
    pub async fn workflow_list(&self, params: WorkflowListParams) -> Result<WorkflowListResult> {
        let root = match params.cwd.filter(|cwd| !cwd.trim().is_empty()) {
            Some(cwd) => Some(tokio::task::spawn_blocking(move || git::discover(Path::new(&cwd))).await??.root),
            None => None,
        };
        Ok(WorkflowListResult { workflows: workflows::list(&self.paths, root.as_deref()) })
    }

    /// `profile/list`.
    pub async fn profile_list(&self, _: NoParams) -> Result<ProfileListResult> {
        Ok(ProfileListResult { profiles: self.config.profiles.values().cloned().collect() })
    }

    /// `profile/memory`.
    pub async fn profile_memory(&self, params: ProfileMemoryParams) -> Result<ProfileMemoryResult> {
        Ok(self.sessions.memory().show(&params.profile).await?)
    }

    /// `profile/memoryRestore`.
    pub async fn profile_memory_restore(&self, params: MemoryRestoreParams) -> Result<ProfileMemoryResult> {
        Ok(self.sessions.memory().restore(&params.profile, params.version).await?)
    }
}
