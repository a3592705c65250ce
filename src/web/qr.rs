//! QR codes of join links: as SVG for the join banner, the console and the printed
//! cards, and as text for the terminal's start-up banner.

/// A QR code of `text` as SVG, dark on light with a quiet zone, for the join banner.
pub fn svg(text: &str) -> String {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .expect("a URL fits in a QR code");
    code.render::<qrcode::render::svg::Color>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build()
}

/// A QR code of `text` drawn with Unicode half blocks, for the terminal.
pub fn terminal(text: &str) -> String {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::L)
        .expect("a URL fits in a QR code");
    code.render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}
