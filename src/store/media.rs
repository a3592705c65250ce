//! Decks' images in the server's own database, written through the store's writer:
//! each image once by the SHA-256 of its file (`images`), and which file name of which
//! deck shows it (`deck_images`).

use std::sync::Arc;

use anyhow::{Context, Result};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::Store;
use crate::core::deck::ImageSize;
use crate::hub::media::{Image, Media, Stored};

#[async_trait]
impl Media for Store {
    async fn put(&self, deck: &str, images: Vec<Image>) -> Result<()> {
        let what = format!("storing the images of deck {deck}");
        let deck = deck.to_owned();
        let images = Arc::new(images);
        self.write(move |tx| {
            for image in images.iter() {
                tx.execute(
                    "INSERT OR IGNORE INTO images
                         (sha256, width, height, screen_type, screen, phone_type, phone)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        image.sha256,
                        image.width,
                        image.height,
                        image.screen.content_type,
                        image.screen.bytes,
                        image.phone.content_type,
                        image.phone.bytes
                    ],
                )?;
                tx.execute(
                    "INSERT OR REPLACE INTO deck_images (deck, name, sha256) VALUES (?1, ?2, ?3)",
                    params![deck, image.name, image.sha256],
                )?;
            }
            Ok(())
        })
        .await
        .context(what)
    }

    async fn get(&self, deck: &str, name: &str, size: ImageSize) -> Result<Option<Stored>> {
        let conn = self.reader()?;
        let (deck, name) = (deck.to_owned(), name.to_owned());
        // A read of up to a few megabytes: off the runtime's threads.
        tokio::task::spawn_blocking(move || {
            let query = match size {
                ImageSize::Screen => {
                    "SELECT i.sha256, i.screen_type, i.screen FROM deck_images d
                     JOIN images i ON i.sha256 = d.sha256 WHERE d.deck = ?1 AND d.name = ?2"
                }
                ImageSize::Phone => {
                    "SELECT i.sha256, i.phone_type, i.phone FROM deck_images d
                     JOIN images i ON i.sha256 = d.sha256 WHERE d.deck = ?1 AND d.name = ?2"
                }
            };
            conn.query_row(query, params![deck, name], |r| {
                Ok(Stored {
                    sha256: r.get(0)?,
                    content_type: r.get(1)?,
                    bytes: r.get(2)?,
                })
            })
            .optional()
            .with_context(|| format!("reading image {name} of deck {deck}"))
        })
        .await?
    }
}
