//! Checking a deck's image files and making the sizes the pages load: PNG, JPEG and
//! WebP only, told by their content (never their name), within the limits below,
//! decoded once with the `image` crate and encoded again (which also drops whatever
//! metadata the file carried, such as a camera's location) at most 1920 px wide for the
//! projector and 800 px for phones. SVG is refused: it can carry scripts, and no
//! sanitiser is used.

use std::fmt;
use std::io::Cursor;

use image::{DynamicImage, ImageFormat, ImageReader};
use sha2::{Digest, Sha256};

use crate::hub::media::{Encoded, Image};

/// Largest image file accepted (10 MiB): a photo from a phone camera fits, a scan at
/// print resolution does not need to.
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// Most pixels an image may have (30 megapixels): the header is read before anything
/// is decoded, so a small file that claims 20,000×20,000 pixels costs nothing.
pub const MAX_IMAGE_PIXELS: u64 = 30_000_000;

/// Most bytes all images of one deck may take together (50 MiB) as files.
pub const MAX_DECK_IMAGE_BYTES: usize = 50 * 1024 * 1024;

/// Widest copy for the projector and the host: a 1080p projector's width.
pub const SCREEN_WIDTH: u32 = 1920;

/// Widest copy for phones: a phone's screen at twice its CSS width.
pub const PHONE_WIDTH: u32 = 800;

/// What a phone's copy should stay under, so a slide's image loads in a few seconds
/// on a slow connection; JPEG quality steps down until it does (a PNG with
/// transparency stays as it is).
pub const PHONE_TARGET_BYTES: usize = 150 * 1024;

/// Why an image file was refused, naming the file, in English and Dutch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageError {
    /// The file name, as the deck names it.
    pub file: String,
    /// A stable name of the problem.
    pub code: &'static str,
    pub en: String,
    pub nl: String,
}

impl ImageError {
    fn new(file: &str, code: &'static str, en: String, nl: String) -> ImageError {
        ImageError {
            file: file.to_owned(),
            code,
            en,
            nl,
        }
    }

    /// The message in English, or in Dutch.
    pub fn text(&self, english: bool) -> String {
        let message = if english { &self.en } else { &self.nl };
        format!("{}: {message}", self.file)
    }

    /// A file the deck names that is not beside it.
    pub fn missing(file: &str) -> ImageError {
        ImageError::new(
            file,
            "image_missing",
            "the deck shows this image, but there is no such file beside the deck".into(),
            "het deck toont deze afbeelding, maar er staat geen bestand met die naam naast \
             het deck"
                .into(),
        )
    }

    /// All of a deck's images together over [`MAX_DECK_IMAGE_BYTES`].
    pub fn deck_too_large(file: &str, total: usize) -> ImageError {
        let (mib, most) = (
            total.div_ceil(1024 * 1024),
            MAX_DECK_IMAGE_BYTES / 1024 / 1024,
        );
        ImageError::new(
            file,
            "images_too_large",
            format!(
                "with this file the deck's images take {mib} MiB; a deck's images may take \
                 at most {most} MiB together (make the images smaller)"
            ),
            format!(
                "met dit bestand beslaan de afbeeldingen van het deck {mib} MiB; samen mogen \
                 ze hoogstens {most} MiB zijn (maak de afbeeldingen kleiner)"
            ),
        )
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text(true))
    }
}

impl std::error::Error for ImageError {}

/// Most files a zip of a deck's images may hold.
pub const MAX_ZIP_FILES: usize = 200;

/// The files of a zip of a deck's images (`deck` names the zip in errors): each a plain
/// file name, side by side. An entry in a folder, with `..` or an absolute path is
/// refused, naming it; the Markdown file and macOS's `__MACOSX/` copies are left out.
/// Sizes are bounded before anything is inflated, so a zip bomb costs nothing.
pub fn unzip(deck: &str, bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, ImageError> {
    use std::io::Read;
    let damaged = || {
        ImageError::new(
            deck,
            "zip_damaged",
            "this is not a zip file, or it is damaged".into(),
            "dit is geen zip-bestand, of het is beschadigd".into(),
        )
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| damaged())?;
    if archive.len() > MAX_ZIP_FILES {
        return Err(ImageError::new(
            deck,
            "zip_files",
            format!(
                "the zip holds {} files; at most {MAX_ZIP_FILES}",
                archive.len()
            ),
            format!(
                "de zip bevat {} bestanden; hoogstens {MAX_ZIP_FILES}",
                archive.len()
            ),
        ));
    }
    let (mut files, mut total) = (Vec::new(), 0u64);
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).map_err(|_| damaged())?;
        let name = entry.name().map_err(|_| damaged())?.into_owned();
        if entry.is_dir() || name.starts_with("__MACOSX/") || name.ends_with(".md") {
            continue;
        }
        let plain = !name.contains(['/', '\\']) && !name.starts_with('.') && !name.contains(':');
        if !plain {
            return Err(ImageError::new(
                &name,
                "zip_path",
                "a zip of a deck's images holds its files side by side, without folders or \
                 `..`"
                    .into(),
                "een zip met de afbeeldingen van een deck bevat de bestanden naast elkaar, \
                 zonder mappen of `..`"
                    .into(),
            ));
        }
        total += entry.size();
        if entry.size() > MAX_IMAGE_BYTES as u64 {
            let mib = entry.size().div_ceil(1024 * 1024);
            return Err(ImageError::new(
                &name,
                "image_too_large",
                format!("the file is {mib} MiB; an image may be at most 10 MiB"),
                format!("het bestand is {mib} MiB; een afbeelding mag hoogstens 10 MiB zijn"),
            ));
        }
        if total > MAX_DECK_IMAGE_BYTES as u64 {
            return Err(ImageError::deck_too_large(&name, total as usize));
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(MAX_IMAGE_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|_| damaged())?;
        files.push((name, data));
    }
    Ok(files)
}

/// Checks image file `name` (its `bytes`) and makes the sizes the pages load.
pub fn prepare(name: &str, bytes: &[u8]) -> Result<Image, ImageError> {
    let refuse = |code, en: String, nl: String| ImageError::new(name, code, en, nl);
    if bytes.len() > MAX_IMAGE_BYTES {
        let mib = bytes.len().div_ceil(1024 * 1024);
        return Err(refuse(
            "image_too_large",
            format!("the file is {mib} MiB; an image may be at most 10 MiB"),
            format!("het bestand is {mib} MiB; een afbeelding mag hoogstens 10 MiB zijn"),
        ));
    }
    let format = format_of(bytes).ok_or_else(|| {
        refuse(
            "image_type",
            "the file is not a PNG, JPEG or WebP image (SVG and other types are not shown)".into(),
            "het bestand is geen PNG-, JPEG- of WebP-afbeelding (SVG en andere soorten worden \
             niet getoond)"
                .into(),
        )
    })?;
    let damaged = || {
        refuse(
            "image_damaged",
            "the image cannot be read: the file is damaged or cut short".into(),
            "de afbeelding is niet te lezen: het bestand is beschadigd of afgebroken".into(),
        )
    };
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| damaged())?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_IMAGE_PIXELS {
        return Err(refuse(
            "image_pixels",
            format!(
                "the image is {width}×{height} pixels; an image may have at most 30 megapixels"
            ),
            format!(
                "de afbeelding is {width}×{height} pixels; een afbeelding mag hoogstens 30 \
                 megapixels hebben"
            ),
        ));
    }
    // A JPEG decoder fills a file cut short with grey; a whole JPEG ends with its
    // end-of-image marker.
    if format == ImageFormat::Jpeg && !bytes.ends_with(&[0xFF, 0xD9]) {
        return Err(damaged());
    }
    let decoded = ImageReader::with_format(Cursor::new(bytes), format)
        .decode()
        .map_err(|_| damaged())?;
    Ok(Image {
        name: name.to_owned(),
        sha256: Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        width,
        height,
        screen: encode(&fit(&decoded, SCREEN_WIDTH), format, None),
        phone: encode(
            &fit(&decoded, PHONE_WIDTH),
            format,
            Some(PHONE_TARGET_BYTES),
        ),
    })
}

/// The file's type by its first bytes, if it is one a deck may show.
fn format_of(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => Some(f),
        _ => None,
    }
}

/// The image at most `width` pixels wide (and as high as wide), never enlarged.
fn fit(image: &DynamicImage, width: u32) -> DynamicImage {
    if image.width() <= width && image.height() <= width {
        return image.clone();
    }
    // Triangle (bilinear) is sharp enough at these reductions and several times
    // faster than Lanczos.
    image.resize(width, width, image::imageops::FilterType::Triangle)
}

/// Encodes for the pages: a PNG stays PNG (charts and maps keep sharp edges), and so
/// does any image with transparency; photographs become JPEG, at a quality that keeps
/// them under `target` bytes where one is given.
fn encode(image: &DynamicImage, source: ImageFormat, target: Option<usize>) -> Encoded {
    let png = source == ImageFormat::Png || image.color().has_alpha();
    if png {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .expect("encoding a decoded image as PNG in memory");
        if target.is_none_or(|t| bytes.len() <= t) || image.color().has_alpha() {
            return Encoded {
                content_type: "image/png".into(),
                bytes,
            };
        }
    }
    let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
    let mut bytes = Vec::new();
    for quality in [85, 75, 65, 55, 45] {
        bytes.clear();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
        rgb.write_with_encoder(encoder)
            .expect("encoding a decoded image as JPEG in memory");
        if target.is_none_or(|t| bytes.len() <= t) {
            break;
        }
    }
    Encoded {
        content_type: "image/jpeg".into(),
        bytes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    #[test]
    fn a_wide_png_gets_a_screen_and_a_phone_size() {
        let image = prepare("kaart.png", &png(2400, 600)).unwrap();
        assert_eq!((image.width, image.height), (2400, 600));
        let screen = image::load_from_memory(&image.screen.bytes).unwrap();
        let phone = image::load_from_memory(&image.phone.bytes).unwrap();
        assert_eq!((screen.width(), screen.height()), (1920, 480));
        assert_eq!((phone.width(), phone.height()), (800, 200));
        assert!(image.phone.bytes.len() <= PHONE_TARGET_BYTES);
    }

    #[test]
    fn the_type_comes_from_the_content_and_svg_is_refused() {
        // A PNG named .jpg is a PNG.
        assert_eq!(
            prepare("foto.jpg", &png(10, 10))
                .unwrap()
                .screen
                .content_type,
            "image/png"
        );
        let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
        assert_eq!(prepare("kaart.png", svg).unwrap_err().code, "image_type");
    }
}
