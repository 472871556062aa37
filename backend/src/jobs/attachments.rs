//! Attachment side jobs: making thumbnails of uploaded images (after the
//! upload is stored, off the request path, on the blocking pool) and the
//! periodic removal of uploads that were never attached to a message.

use std::io::Cursor;
use std::time::Duration;

use chrono::Utc;
use image::{DynamicImage, ImageReader, Limits, Rgb, RgbImage};
use tokio::sync::Semaphore;

use crate::domain::attachments::{self as rules, THUMBNAIL_MAX_SIDE};
use crate::state::AppState;

/// Thumbnails made at once per process: each holds a decoded image.
static THUMBNAIL_SLOTS: Semaphore = Semaphore::const_new(2);
/// Images wider or taller than this are not decoded.
const MAX_IMAGE_SIDE: u32 = 16_384;
/// Memory one decode may take (a small file can claim a huge bitmap: a
/// decompression bomb is refused here instead of exhausting memory).
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
const JPEG_QUALITY: u8 = 80;

/// A thumbnail: the original's size and the JPEG bytes.
#[derive(Debug)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub jpeg: Vec<u8>,
}

/// Decodes an image (within the limits) and renders a JPEG at most
/// `THUMBNAIL_MAX_SIDE` pixels on its longest side; transparency is laid
/// over white. CPU-bound: run it on the blocking pool.
pub fn render_thumbnail(bytes: &[u8]) -> Result<Thumbnail, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| e.to_string())?;
    let (width, height) = (img.width(), img.height());
    let small = if width.max(height) > THUMBNAIL_MAX_SIDE {
        img.thumbnail(THUMBNAIL_MAX_SIDE, THUMBNAIL_MAX_SIDE)
    } else {
        img
    };
    let rgb = flatten(small);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(|e| e.to_string())?;
    Ok(Thumbnail {
        width,
        height,
        jpeg,
    })
}

/// RGB with any transparency composited over white (JPEG has no alpha).
fn flatten(img: DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.into_rgb8();
    }
    let rgba = img.into_rgba8();
    let mut out = RgbImage::new(rgba.width(), rgba.height());
    for (x, y, p) in rgba.enumerate_pixels() {
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        out.put_pixel(x, y, Rgb([mix(p[0]), mix(p[1]), mix(p[2])]));
    }
    out
}

/// Makes the thumbnail of a stored image in the background.
pub fn spawn_thumbnail(st: AppState, attachment_id: i64, storage_key: String) {
    tokio::spawn(async move {
        if let Err(e) = make_thumbnail(&st, attachment_id, &storage_key).await {
            // An image the decoder refuses simply has no thumbnail.
            tracing::info!(attachment_id, error = %e, "no thumbnail");
        }
    });
}

async fn make_thumbnail(st: &AppState, attachment_id: i64, key: &str) -> Result<(), String> {
    let _slot = THUMBNAIL_SLOTS.acquire().await.map_err(|e| e.to_string())?;
    let bytes = st.storage.get_bytes(key).await.map_err(|e| e.to_string())?;
    let thumb = tokio::task::spawn_blocking(move || render_thumbnail(&bytes))
        .await
        .map_err(|e| e.to_string())??;
    let thumb_key = rules::thumbnail_key(key);
    st.storage
        .put(&thumb_key, thumb.jpeg.into())
        .await
        .map_err(|e| e.to_string())?;
    let row = rules::set_thumbnail(&st.db, attachment_id, thumb.width, thumb.height)
        .await
        .map_err(|e| e.to_string())?;
    match row {
        // The upload was removed meanwhile: its thumbnail goes too.
        None => rules::remove_objects(st, &[thumb_key]).await,
        // Already sent: clients showing the message learn of the thumbnail.
        Some(a) => {
            if let Some(mid) = a.message_id {
                crate::domain::messages::republish(st, mid)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

/// At start, retries the thumbnails of the last day's images that have
/// none: a job lost to a restart is made up for; an image that cannot be
/// read is tried once more per start, no more.
pub fn spawn_thumbnail_catch_up(st: AppState) {
    tokio::spawn(async move {
        match rules::missing_thumbnails(&st.db, chrono::Duration::days(1), 1_000).await {
            Ok(rows) => {
                for a in rows {
                    spawn_thumbnail(st.clone(), a.id, a.storage_key);
                }
            }
            Err(e) => tracing::warn!(error = %e, "looking for missing thumbnails failed"),
        }
    });
}

/// How often the sweeper looks: a quarter of the retention, between 1 s
/// and 10 min.
pub fn sweep_period(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(600))
}

/// Removes uploads left unattached for longer than ATTACHMENT_RETENTION,
/// periodically. Safe with several instances sweeping the same database
/// and storage (see `domain::attachments::delete_unattached`).
pub fn spawn_cleanup(st: AppState) {
    let retention = st.settings.attachment_retention;
    let Ok(retention_chrono) = chrono::Duration::from_std(retention) else {
        tracing::error!("ATTACHMENT_RETENTION is out of range; unattached uploads are kept");
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(sweep_period(retention));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match rules::remove_unattached(&st, Utc::now() - retention_chrono).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "unattached uploads removed"),
                Err(e) => tracing::warn!(error = %e, "removing unattached uploads failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbaImage};

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
        });
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("png");
        out.into_inner()
    }

    #[test]
    fn thumbnails_fit_in_480_and_keep_the_ratio() {
        let t = render_thumbnail(&png(1200, 600)).expect("thumbnail");
        assert_eq!((t.width, t.height), (1200, 600));
        let img = image::load_from_memory(&t.jpeg).expect("jpeg");
        assert_eq!((img.width(), img.height()), (480, 240));

        let t = render_thumbnail(&png(100, 50)).expect("thumbnail");
        let img = image::load_from_memory(&t.jpeg).expect("jpeg");
        assert_eq!((img.width(), img.height()), (100, 50), "never enlarged");
    }

    #[test]
    fn transparency_becomes_white() {
        let img = RgbaImage::from_pixel(4, 4, image::Rgba([0, 0, 0, 0]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).expect("png");
        let t = render_thumbnail(out.get_ref()).expect("thumbnail");
        let back = image::load_from_memory(&t.jpeg).expect("jpeg").into_rgb8();
        assert!(back.get_pixel(1, 1)[0] > 240, "{:?}", back.get_pixel(1, 1));
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        // A tiny PNG header claiming 100,000 x 100,000 pixels.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(render_thumbnail(&bomb).is_err());
        // A valid image past the side limit is not decoded.
        assert!(render_thumbnail(&png(MAX_IMAGE_SIDE + 1, 1)).is_err());
        assert!(render_thumbnail(b"not an image").is_err());
    }

    #[test]
    fn sweeps_often_enough_for_short_retention() {
        assert_eq!(sweep_period(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(
            sweep_period(Duration::from_secs(86_400)),
            Duration::from_secs(600)
        );
    }
}
