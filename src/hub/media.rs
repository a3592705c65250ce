//! The images of decks, as a port its adapters implement: each image is kept once by
//! the SHA-256 of its file, in the two sizes the pages load, and a deck names its
//! images by file name under its [`crate::core::deck::media_key`]. On one machine the
//! images are in the same database as the sessions; `app` picks the adapter.

use anyhow::Result;
use async_trait::async_trait;

use crate::core::deck::ImageSize;

/// Where decks' images are kept.
#[async_trait]
pub trait Media: Send + Sync {
    /// Stores `images` as the images of the deck whose media key is `deck`, each under
    /// its file name (replacing what that name had).
    async fn put(&self, deck: &str, images: Vec<Image>) -> Result<()>;

    /// Image `name` of deck `deck` at `size`, if stored.
    async fn get(&self, deck: &str, name: &str, size: ImageSize) -> Result<Option<Stored>>;
}

/// An image checked and made ready to serve (see `web::images`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The file name the deck uses.
    pub name: String,
    /// The SHA-256 of the file as read, in hexadecimal.
    pub sha256: String,
    /// The file's width and height in pixels.
    pub width: u32,
    pub height: u32,
    /// At most 1920 px wide, for the projector and the host.
    pub screen: Encoded,
    /// At most 800 px wide, for phones.
    pub phone: Encoded,
}

/// One size of an image, as it is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// `image/png` or `image/jpeg`.
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// One size of a stored image, with the digest that names its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The SHA-256 of the file it was made from, in hexadecimal.
    pub sha256: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}
