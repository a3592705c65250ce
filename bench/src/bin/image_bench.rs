//! Times what the server does with an uploaded image: check it, decode it and make the
//! two sizes the pages load (`stemzaal::web::images::prepare`).
//!
//! `cargo run --release -p stemzaal-bench --bin image_bench -- --runs 7` makes a
//! photo-like 4000×3000 JPEG (12 megapixels, as a phone camera takes) and a chart-like
//! 2400×1400 PNG, the same pixels every time, prepares each `--runs` times and prints a
//! Markdown table: the file's size, the median, fastest and slowest run, and the bytes
//! of the screen and phone copies.

use std::io::Cursor;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Parser;
use image::{DynamicImage, ImageFormat, RgbImage};

/// Time preparing large images.
#[derive(Parser, Debug)]
struct Args {
    /// Runs per image.
    #[arg(long, default_value_t = 7)]
    runs: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    // A photo: smooth gradients with fine noise, which JPEG cannot make small.
    let photo = RgbImage::from_fn(4000, 3000, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 27;
        image::Rgb([
            ((x / 16 + n) % 256) as u8,
            ((y / 12 + n) % 256) as u8,
            (((x + y) / 28) % 256) as u8,
        ])
    });
    // A chart: blocks of flat colour, as tests/it/images.rs draws.
    let chart = RgbImage::from_fn(2400, 1400, |x, y| {
        image::Rgb([(x / 97 * 40 % 256) as u8, (y / 61 * 50 % 256) as u8, 200])
    });
    println!("| image | file | median | fastest | slowest | screen copy | phone copy |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, pixels, format) in [
        ("foto.jpg", photo, ImageFormat::Jpeg),
        ("grafiek.png", chart, ImageFormat::Png),
    ] {
        let (w, h) = pixels.dimensions();
        let mut file = Vec::new();
        DynamicImage::ImageRgb8(pixels).write_to(&mut Cursor::new(&mut file), format)?;
        let mut times = Vec::new();
        let mut sizes = (0, 0);
        for _ in 0..args.runs.max(1) {
            let started = Instant::now();
            let image = stemzaal::web::images::prepare(name, &file)?;
            times.push(started.elapsed());
            sizes = (image.screen.bytes.len(), image.phone.bytes.len());
        }
        times.sort();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {name} {w}×{h} | {} kB | {} | {} | {} | {} kB | {} kB |",
            file.len() / 1000,
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1]),
            sizes.0 / 1000,
            sizes.1 / 1000,
        );
    }
    Ok(())
}
