//! The gRPC edge of API tokens: `trackd.v1.AuthService` over the [`Tracker`], the same
//! operations and rules as `/api/2.0/trackd/tokens/…`.

use tonic::{Request, Response, Status};
use tracing::instrument;
use trackd_proto::v1 as pb;
use trackd_proto::v1::auth_service_server::AuthService;

use crate::domain::access::ApiToken;
use crate::error::TrackingError;
use crate::identity::grpc_caller;
use crate::tracker::Tracker;

pub use trackd_proto::v1::auth_service_server::AuthServiceServer;

/// `AuthService` implementation.
#[derive(Clone)]
pub struct AuthGrpc {
    tracker: Tracker,
}

impl AuthGrpc {
    /// A service over `tracker`.
    pub fn new(tracker: Tracker) -> Self {
        AuthGrpc { tracker }
    }

    /// The tonic server wrapper.
    pub fn into_server(self) -> AuthServiceServer<Self> {
        AuthServiceServer::new(self)
    }

    fn auth_on(&self) -> Result<(), Status> {
        if self.tracker.auth_enabled() {
            Ok(())
        } else {
            Err(TrackingError::Unsupported(
                "Authentication is off on this server (start it with --auth).".into(),
            )
            .into())
        }
    }
}

fn info(t: &ApiToken) -> pb::ApiTokenInfo {
    pb::ApiTokenInfo {
        id: t.id.clone(),
        username: t.user.clone(),
        description: t.description.clone(),
        created_ms: t.created_ms,
    }
}

#[tonic::async_trait]
impl AuthService for AuthGrpc {
    #[instrument(skip_all)]
    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        self.auth_on()?;
        let caller = grpc_caller(&request)?;
        let r = request.into_inner();
        let owner = self.tracker.token_owner(&caller, &r.username)?;
        let (record, token) = self
            .tracker
            .create_token(&caller, &owner, &r.description)
            .await?;
        Ok(Response::new(pb::CreateTokenResponse {
            info: Some(info(&record)),
            token,
        }))
    }

    #[instrument(skip_all)]
    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        self.auth_on()?;
        let caller = grpc_caller(&request)?;
        let owner = self
            .tracker
            .token_owner(&caller, &request.into_inner().username)?;
        let tokens = self.tracker.list_tokens(&caller, &owner).await?;
        Ok(Response::new(pb::ListTokensResponse {
            tokens: tokens.iter().map(info).collect(),
        }))
    }

    #[instrument(skip_all, fields(id = %request.get_ref().id))]
    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::RevokeTokenResponse>, Status> {
        self.auth_on()?;
        let caller = grpc_caller(&request)?;
        self.tracker
            .revoke_token(&caller, &request.into_inner().id)
            .await?;
        Ok(Response::new(pb::RevokeTokenResponse {}))
    }
}
