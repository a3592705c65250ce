//! Decks' images in cluster mode, so that every node serves the images of a deck that
//! was uploaded on any of them (or read from beside a `--deck` file).
//!
//! - The object store `stemzaal_images` holds each size of each image once, by the
//!   SHA-256 of its file: `<sha256>.screen` and `<sha256>.phone`, with the content type
//!   in the object's metadata. NATS cuts an object into chunks, so a 10 MiB image fits.
//! - The key-value bucket `stemzaal_image_names` says which image each file name of
//!   each deck shows: `<media key>.<file name in hexadecimal>` holds the SHA-256.
//!
//! A put stores the images first and their names after, so a name never points at an
//! image that is not there; an image already stored (by its digest) is not sent again.
//! While NATS is not connected a put is refused before it sends anything more.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, Result};
use async_nats::jetstream::object_store::{self, GetErrorKind, ObjectMetadata, ObjectStore};
use async_nats::jetstream::{self, kv, stream};
use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncReadExt;

use super::{connected, ensure_bucket, make_bucket_stream, retry_for, START_FOR};
use crate::core::deck::ImageSize;
use crate::hub::media::{Encoded, Image, Media, Stored};

const OBJECTS: &str = "stemzaal_images";
const NAMES: &str = "stemzaal_image_names";

/// Where an object's content type is kept in its metadata.
const CONTENT_TYPE: &str = "content-type";

/// Decks' images in the cluster; cheap to clone.
#[derive(Clone)]
pub struct ClusterMedia {
    client: async_nats::Client,
    objects: ObjectStore,
    names: kv::Store,
}

impl ClusterMedia {
    /// Opens the buckets, making them if no node has yet.
    pub(super) async fn open(
        client: &async_nats::Client,
        js: &jetstream::Context,
        replicas: usize,
    ) -> Result<ClusterMedia> {
        // Made as a stream, the way the object store's own call would, so that nodes
        // starting at once find each other's and a cluster electing leaders is waited
        // for as for every other bucket.
        let config = stream::Config {
            name: format!("OBJ_{OBJECTS}"),
            subjects: vec![format!("$O.{OBJECTS}.C.>"), format!("$O.{OBJECTS}.M.>")],
            discard: stream::DiscardPolicy::New,
            allow_rollup: true,
            allow_direct: true,
            num_replicas: replicas,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        make_bucket_stream(js, OBJECTS, config).await?;
        let objects = retry_for(&format!("opening the bucket {OBJECTS}"), START_FOR, || {
            js.get_object_store(OBJECTS)
        })
        .await?;
        let names = ensure_bucket(js, NAMES, replicas, Duration::ZERO).await?;
        Ok(ClusterMedia {
            client: client.clone(),
            objects,
            names,
        })
    }

    async fn put_size(&self, sha256: &str, size: ImageSize, encoded: &Encoded) -> Result<()> {
        let name = object_name(sha256, size);
        match self.objects.info(&name).await {
            Ok(info) if !info.deleted => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == object_store::InfoErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("looking for image {name}")),
        }
        let meta = ObjectMetadata {
            name: name.clone(),
            metadata: HashMap::from([(CONTENT_TYPE.to_owned(), encoded.content_type.clone())]),
            ..Default::default()
        };
        self.objects
            .put(meta, &mut encoded.bytes.as_slice())
            .await
            .with_context(|| format!("storing image {name}"))?;
        Ok(())
    }
}

#[async_trait]
impl Media for ClusterMedia {
    async fn put(&self, deck: &str, images: Vec<Image>) -> Result<()> {
        // Checked before each step: an image refused must not land later, and a name
        // must not (its image may be missing).
        for image in &images {
            connected(&self.client)?;
            self.put_size(&image.sha256, ImageSize::Screen, &image.screen)
                .await?;
            self.put_size(&image.sha256, ImageSize::Phone, &image.phone)
                .await?;
        }
        for image in &images {
            connected(&self.client)?;
            self.names
                .put(
                    name_key(deck, &image.name),
                    Bytes::from(image.sha256.clone()),
                )
                .await
                .with_context(|| format!("storing the name {} of deck {deck}", image.name))?;
        }
        Ok(())
    }

    async fn get(&self, deck: &str, name: &str, size: ImageSize) -> Result<Option<Stored>> {
        let what = || format!("reading image {name} of deck {deck}");
        let Some(sha256) = self
            .names
            .get(name_key(deck, name))
            .await
            .with_context(what)?
        else {
            return Ok(None);
        };
        let sha256 = String::from_utf8(sha256.to_vec()).with_context(what)?;
        let mut object = match self.objects.get(object_name(&sha256, size)).await {
            Ok(object) => object,
            Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(what),
        };
        let content_type = object
            .info
            .metadata
            .get(CONTENT_TYPE)
            .cloned()
            .with_context(|| format!("{}: no content type", what()))?;
        let mut bytes = Vec::with_capacity(object.info.size);
        object.read_to_end(&mut bytes).await.with_context(what)?;
        Ok(Some(Stored {
            sha256,
            content_type,
            bytes,
        }))
    }
}

fn object_name(sha256: &str, size: ImageSize) -> String {
    let size = match size {
        ImageSize::Screen => "screen",
        ImageSize::Phone => "phone",
    };
    format!("{sha256}.{size}")
}

/// A key the bucket takes for any file name: keys allow only letters, digits and a
/// few signs.
fn name_key(deck: &str, name: &str) -> String {
    let mut key = format!("{deck}.");
    for byte in name.bytes() {
        write!(key, "{byte:02x}").expect("writing to a String");
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_name_makes_a_key_the_bucket_takes() {
        let key = name_key("ab12", "kaart wijk één.png");
        assert!(key.starts_with("ab12."));
        assert!(key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-/_=.".contains(&b)));
        assert_ne!(key, name_key("ab12", "kaart wijk een.png"));
    }
}
