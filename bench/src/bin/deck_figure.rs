//! Draws the built-in deck's figure: the design of the study the deck presents.
//!
//! `cargo run --release -p stemzaal-bench --bin deck_figure -- decks/opzet-onderzoek.png`
//! writes the PNG the slide "Aanpak" of `decks/gebiedsgericht-werken.md` shows. It says
//! only what the seed says (`decks/seeds/gebiedsgericht-werken-slides.txt`): the four
//! research questions, shortened, and the four methods, and that the focus is this
//! council period. The seed has no figures to chart, so the figure charts none. The
//! same program writes the same bytes every time, in the font the PDF report embeds
//! (Liberation Sans, `assets/fonts`), and it refuses colours under WCAG AA contrast.

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use anyhow::{ensure, Context, Result};
use image::{Rgb, RgbImage};

/// Width and height: taller than wide, for the half of the screen beside the slide's
/// text; a projector shows it at about two thirds of this size.
const SIZE: (u32, u32) = (1200, 1640);
/// Page and text colours: white, near black, a dark blue for the headings' bands (white
/// on it), a pale blue for the items' boxes (near black on it).
const WHITE: Rgb<u8> = Rgb([0xff, 0xff, 0xff]);
const INK: Rgb<u8> = Rgb([0x1a, 0x1a, 0x1a]);
const BAND: Rgb<u8> = Rgb([0x1d, 0x4f, 0x7c]);
const PANEL: Rgb<u8> = Rgb([0xe3, 0xec, 0xf5]);
/// Type sizes in pixels: at two thirds on a 1920×1080 projector the items are about
/// 40 px, the minimum size of the screen page's text (42 px).
const HEADING_PX: f32 = 68.0;
const ITEM_PX: f32 = 60.0;
/// Outer margin, and the inner margin of a box.
const MARGIN: i32 = 40;
const PAD: i32 = 28;

/// The four research questions of the seed, each in a few words.
const QUESTIONS: [&str; 4] = [
    "1  Hoe is het beleid vormgegeven?",
    "2  Ervaringen van betrokkenen",
    "3  Resultaten, opbrengsten en kosten",
    "4  Lessen voor de toekomst",
];
/// The seed's methods ("Aanpak").
const METHODS: [&str; 4] = [
    "Deskresearch",
    "Vragenlijst burgerpanel",
    "Vragenlijst betrokkenen",
    "Interviews met betrokkenen",
];

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "decks/opzet-onderzoek.png".to_owned());
    for (fg, bg) in [(INK, WHITE), (WHITE, BAND), (INK, PANEL)] {
        let ratio = contrast(fg, bg);
        ensure!(
            ratio >= 4.5,
            "{fg:?} on {bg:?} is {ratio:.1}:1, under WCAG AA"
        );
    }
    let regular = FontRef::try_from_slice(include_bytes!(
        "../../../assets/fonts/LiberationSans-Regular.ttf"
    ))?;
    let bold = FontRef::try_from_slice(include_bytes!(
        "../../../assets/fonts/LiberationSans-Bold.ttf"
    ))?;
    let mut img = RgbImage::from_pixel(SIZE.0, SIZE.1, WHITE);
    let width = SIZE.0 as i32 - 2 * MARGIN;
    let mut y = MARGIN;
    y = section(
        &mut img,
        &bold,
        &regular,
        y,
        "Vier onderzoeksvragen",
        &QUESTIONS,
    )?;
    // The arrow from the questions to the methods, with what it means.
    let (top, bottom) = (y + 16, y + 150);
    let mid = SIZE.0 as i32 / 2;
    fill(&mut img, mid - 120 - 14, top, 28, bottom - top - 55, INK);
    triangle(&mut img, (mid - 120, bottom), 60, 56, INK);
    text(
        &mut img,
        &regular,
        ITEM_PX,
        mid - 30,
        top + 40,
        "onderzocht met",
        INK,
    );
    y = bottom + 16;
    y = section(&mut img, &bold, &regular, y, "Vier methoden", &METHODS)?;
    let focus = "Focus: deze raadsperiode";
    let w = measure(&bold, ITEM_PX, focus);
    text(
        &mut img,
        &bold,
        ITEM_PX,
        MARGIN + (width - w) / 2,
        y + 30,
        focus,
        INK,
    );
    ensure!(
        y + 30 + ITEM_PX as i32 + MARGIN <= SIZE.1 as i32,
        "the figure runs off its foot"
    );
    img.save(&out).with_context(|| format!("writing {out}"))?;
    println!("{out}: {}×{} pixels", SIZE.0, SIZE.1);
    Ok(())
}

/// A heading on a dark band and its items in pale boxes under it, from `y`; returns
/// where the section ends.
fn section(
    img: &mut RgbImage,
    bold: &FontRef,
    regular: &FontRef,
    mut y: i32,
    heading: &str,
    items: &[&str],
) -> Result<i32> {
    let width = SIZE.0 as i32 - 2 * MARGIN;
    let band = HEADING_PX as i32 + 2 * PAD;
    fill(img, MARGIN, y, width, band, BAND);
    text(img, bold, HEADING_PX, MARGIN + PAD, y + PAD, heading, WHITE);
    y += band + 14;
    let row = ITEM_PX as i32 + 2 * PAD - 8;
    for item in items {
        let w = measure(regular, ITEM_PX, item);
        ensure!(w <= width - 2 * PAD, "`{item}` is wider than its box");
        fill(img, MARGIN, y, width, row, PANEL);
        text(img, regular, ITEM_PX, MARGIN + PAD, y + PAD - 4, item, INK);
        y += row + 12;
    }
    Ok(y)
}

/// The width of `s` at `px` pixels, kerned.
fn measure(font: &FontRef, px: f32, s: &str) -> i32 {
    let scaled = font.as_scaled(PxScale::from(px));
    let mut width = 0.0;
    let mut last = None;
    for c in s.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = last {
            width += scaled.kern(prev, id);
        }
        width += scaled.h_advance(id);
        last = Some(id);
    }
    width.ceil() as i32
}

/// Draws `s` with its top at `y`, blending each glyph's coverage over what is there.
fn text(img: &mut RgbImage, font: &FontRef, px: f32, x: i32, y: i32, s: &str, colour: Rgb<u8>) {
    let scaled = font.as_scaled(PxScale::from(px));
    let baseline = y as f32 + scaled.ascent();
    let mut pen = x as f32;
    let mut last = None;
    for c in s.chars() {
        let id = scaled.glyph_id(c);
        if let Some(prev) = last {
            pen += scaled.kern(prev, id);
        }
        let glyph = id.with_scale_and_position(px, point(pen, baseline));
        pen += scaled.h_advance(id);
        last = Some(id);
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let (px_x, px_y) = (
                bounds.min.x as i32 + gx as i32,
                bounds.min.y as i32 + gy as i32,
            );
            if px_x < 0 || px_y < 0 || px_x >= SIZE.0 as i32 || px_y >= SIZE.1 as i32 {
                return;
            }
            let under = img.get_pixel_mut(px_x as u32, px_y as u32);
            for i in 0..3 {
                let (a, b) = (f32::from(under[i]), f32::from(colour[i]));
                under[i] = (a + (b - a) * coverage.clamp(0.0, 1.0)).round() as u8;
            }
        });
    }
}

/// Fills a rectangle.
fn fill(img: &mut RgbImage, x: i32, y: i32, w: i32, h: i32, colour: Rgb<u8>) {
    for py in y.max(0)..(y + h).min(SIZE.1 as i32) {
        for px in x.max(0)..(x + w).min(SIZE.0 as i32) {
            img.put_pixel(px as u32, py as u32, colour);
        }
    }
}

/// Fills a triangle pointing down with its tip at `tip`, `w` wide and `h` high.
fn triangle(img: &mut RgbImage, tip: (i32, i32), w: i32, h: i32, colour: Rgb<u8>) {
    for dy in 0..h {
        let half = w * dy / h;
        fill(img, tip.0 - half, tip.1 - dy, 2 * half, 1, colour);
    }
}

/// The WCAG contrast ratio of two sRGB colours.
fn contrast(a: Rgb<u8>, b: Rgb<u8>) -> f64 {
    let luminance = |c: Rgb<u8>| {
        let lin = |v: u8| {
            let s = f64::from(v) / 255.0;
            if s <= 0.03928 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}
