//! `agents/list` and `agents/authenticate`.

use arbor_protocol::{Ack, AgentsListResult, AuthenticateParams, NoParams};

use super::{Result, Service};
use crate::sandbox;

impl Service {
    /// `agents/list`.
    pub async fn agents_list(&self, _: NoParams) -> Result<AgentsListResult> {
        Ok(AgentsListResult { agents: self.agents.list(), sandbox: sandbox::Host::get().report() })
    }

    /// `agents/authenticate`: the agent logs in with a method it does by itself.
    pub async fn agents_authenticate(&self, params: AuthenticateParams) -> Result<Ack> {
        self.agents.get(&params.agent)?.authenticate(&params.method_id).await?;
        Ok(Ack {})
    }
}
