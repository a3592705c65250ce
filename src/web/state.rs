//! What every HTTP handler shares, pages and API alike: its own file so that the router
//! (`web`) and the API it mounts (`api`) both import it and neither imports the other.

use std::sync::Arc;

use crate::hub::library::Library;
use crate::hub::media::Media;
use crate::hub::Hub;
use crate::web::admin::Admin;
use crate::web::hosts::AllowedHosts;
use crate::web::limits::{JoinLimiter, Limits};

/// Shared state of the HTTP layer.
#[derive(Clone)]
pub struct AppState {
    pub(crate) hub: Arc<Hub>,
    pub(crate) limits: Arc<Limits>,
    pub(crate) hosts: Arc<AllowedHosts>,
    pub(crate) joins: Arc<JoinLimiter>,
    pub(crate) admin: Arc<Admin>,
    /// The console's decks and settings.
    pub(crate) library: Arc<dyn Library>,
    /// The decks' images.
    pub(crate) media: Arc<dyn Media>,
}
