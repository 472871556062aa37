//! Attachments: files being uploaded for the next message (chips with
//! progress, errors and a remove button, fed by the composer's button, a
//! paste or a drop on the chat) and the files of a sent message (images
//! inline, other files as download chips with their size).

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::ErrorCode;
use shared::dto::messages::AttachmentDto;

use crate::api::{self, ApiError, Upload};
use crate::i18n::{I18n, Lang, Strings, use_i18n};

/// The server takes at most this many files per message.
pub const MAX_ATTACHMENTS: usize = 10;

/// The longest side of the server's thumbnails, in pixels.
const THUMBNAIL_SIDE: f64 = 480.0;

/// Where one chosen file is.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadState {
    /// Sent so far (0.0–1.0).
    Uploading(f64),
    Done(AttachmentDto),
    /// Why it failed (a UI text).
    Failed(&'static str),
}

/// A file chosen for the next message.
#[derive(Debug, Clone)]
pub struct PendingFile {
    /// Local key (unique in this chat).
    pub key: u32,
    pub name: String,
    pub state: RwSignal<UploadState>,
}

/// The files chosen for the next message of one chat.
#[derive(Debug, Clone, Copy)]
pub struct PendingFiles {
    pub files: RwSignal<Vec<PendingFile>>,
    uploads: StoredValue<Vec<(u32, Upload)>, LocalStorage>,
    next_key: StoredValue<u32>,
}

impl PendingFiles {
    pub fn new() -> Self {
        Self {
            files: RwSignal::new(Vec::new()),
            uploads: StoredValue::new_local(Vec::new()),
            next_key: StoredValue::new(0),
        }
    }

    /// Starts uploading files (from the button, a paste or a drop).
    pub fn add(self, list: Option<web_sys::FileList>, i18n: I18n) {
        let Some(list) = list else {
            return;
        };
        for index in 0..list.length() {
            let Some(file) = list.item(index) else {
                continue;
            };
            self.next_key.update_value(|k| *k += 1);
            let key = self.next_key.get_value();
            let state = RwSignal::new(UploadState::Uploading(0.0));
            let full = self.files.with_untracked(Vec::len) >= MAX_ATTACHMENTS;
            self.files.update(|f| {
                f.push(PendingFile {
                    key,
                    name: file.name(),
                    state,
                })
            });
            if full {
                state.set(UploadState::Failed(i18n.t().too_many_files));
                continue;
            }
            let started = api::start_upload(&file, move |share| {
                if matches!(state.get_untracked(), UploadState::Uploading(_)) {
                    state.set(UploadState::Uploading(share));
                }
            });
            let (upload, done) = match started {
                Ok(started) => started,
                Err(err) => {
                    leptos::logging::warn!("upload could not start: {err}");
                    state.set(UploadState::Failed(i18n.t().upload_failed));
                    continue;
                }
            };
            self.uploads.update_value(|u| u.push((key, upload.clone())));
            spawn_local(async move {
                let result = api::finish_upload(&upload, done).await;
                self.uploads.update_value(|u| u.retain(|(k, _)| *k != key));
                // Removed meanwhile: nothing to show.
                if !self
                    .files
                    .with_untracked(|f| f.iter().any(|p| p.key == key))
                {
                    return;
                }
                state.set(match result {
                    Ok(mut stored) if !stored.is_empty() => UploadState::Done(stored.remove(0)),
                    Ok(_) => UploadState::Failed(i18n.t().upload_failed),
                    Err(err) => {
                        leptos::logging::warn!("upload failed: {err}");
                        UploadState::Failed(upload_error(&err, i18n.t()))
                    }
                });
            });
        }
    }

    /// Drops a chosen file (cancelling its upload).
    pub fn remove(self, key: u32) {
        self.uploads.update_value(|u| {
            u.retain(|(k, upload)| {
                if *k == key {
                    upload.abort();
                }
                *k != key
            })
        });
        self.files.update(|f| f.retain(|p| p.key != key));
    }

    /// Some upload has not finished yet.
    pub fn busy(self) -> bool {
        self.files.with(|f| {
            f.iter()
                .any(|p| matches!(p.state.get(), UploadState::Uploading(_)))
        })
    }

    /// The ids of the uploaded files, for sending.
    pub fn ids(self) -> Vec<i64> {
        self.files.with_untracked(|f| {
            f.iter()
                .filter_map(|p| match p.state.get_untracked() {
                    UploadState::Done(a) => Some(a.id),
                    _ => None,
                })
                .collect()
        })
    }

    /// Forgets the chosen files (after sending).
    pub fn clear(self) {
        self.files.set(Vec::new());
    }
}

impl Default for PendingFiles {
    fn default() -> Self {
        Self::new()
    }
}

fn upload_error(err: &ApiError, t: &'static Strings) -> &'static str {
    match err.code() {
        Some(ErrorCode::PayloadTooLarge) => t.file_too_large,
        _ if matches!(err, ApiError::UnexpectedResponse { status: 413 }) => t.file_too_large,
        _ if matches!(err, ApiError::Network(_)) => t.network_error,
        _ => t.upload_failed,
    }
}

/// A size as people read it: "840 B", "12 KB", "1,5 MB" (Polish decimal
/// comma; English gets a point).
pub fn human_size(bytes: i64, decimal_comma: bool) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes.max(0) as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    let tenths = (value * 10.0).round() as i64;
    let text = if unit == 0 || value >= 10.0 || tenths % 10 == 0 {
        format!("{}", value.round() as i64)
    } else {
        let sep = if decimal_comma { ',' } else { '.' };
        format!("{}{sep}{}", tenths / 10, tenths % 10)
    };
    format!("{text} {}", UNITS[unit])
}

/// The chips of the files chosen for the next message.
#[component]
pub fn PendingChips(pending: PendingFiles) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <ul
            class="chips composer__files"
            aria-label=i18n.text(|t| t.attachments_label)
            data-testid="pending-attachments"
        >
            <For
                each=move || pending.files.get()
                key=|p| p.key
                children=move |file| {
                    let PendingFile { key, name, state } = file;
                    let remove_label = {
                        let name = name.clone();
                        move || Strings::fill(i18n.t().remove_attachment, "name", &name)
                    };
                    let status = move || match state.get() {
                        UploadState::Uploading(share) => {
                            let percent = (share * 100.0).round().clamp(0.0, 100.0) as u32;
                            view! {
                                <progress
                                    class="attachment-chip__progress"
                                    max="100"
                                    value=percent
                                    aria-label=i18n.text(|t| t.uploading)
                                ></progress>
                            }
                                .into_any()
                        }
                        UploadState::Done(a) => {
                            view! {
                                <span class="attachment-chip__size">
                                    {human_size(a.size_bytes, i18n.lang() == Lang::Pl)}
                                </span>
                            }
                                .into_any()
                        }
                        UploadState::Failed(why) => {
                            view! {
                                <span
                                    class="attachment-chip__error"
                                    role="alert"
                                    data-testid="attachment-error"
                                >
                                    {why}
                                </span>
                            }
                                .into_any()
                        }
                    };
                    view! {
                        <li
                            class="chip attachment-chip"
                            class:attachment-chip--failed=move || {
                                matches!(state.get(), UploadState::Failed(_))
                            }
                            data-testid="pending-attachment"
                            data-state=move || match state.get() {
                                UploadState::Uploading(_) => "uploading",
                                UploadState::Done(_) => "done",
                                UploadState::Failed(_) => "failed",
                            }
                        >
                            <span class="attachment-chip__name">{name}</span>
                            {move || status()}
                            <button
                                type="button"
                                class="chip__remove"
                                aria-label=remove_label
                                on:click=move |_| pending.remove(key)
                            >
                                "✕"
                            </button>
                        </li>
                    }
                }
            />
        </ul>
    }
}

/// The files of a sent message.
#[component]
pub fn MessageAttachments(#[prop(into)] items: Signal<Vec<AttachmentDto>>) -> impl IntoView {
    let i18n = use_i18n();
    move || {
        let items = items.get();
        (!items.is_empty()).then(|| {
            items
                .into_iter()
                .map(|a| attachment_view(a, i18n))
                .collect_view()
        })
    }
}

fn attachment_view(a: AttachmentDto, i18n: I18n) -> AnyView {
    // Only what the server serves inline is shown inline (it answers
    // everything else as a download).
    let inline_image = matches!(
        a.content_type.as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/bmp" | "image/avif"
    );
    if inline_image {
        let src = a.thumbnail_url.clone().unwrap_or_else(|| a.url.clone());
        // The thumbnail's size (at most THUMBNAIL_SIDE on its longer side),
        // so the layout does not jump when it loads.
        let (width, height) = match (a.width, a.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => {
                let scale = (THUMBNAIL_SIDE / f64::from(w.max(h))).min(1.0);
                (
                    Some((f64::from(w) * scale).round() as i32),
                    Some((f64::from(h) * scale).round() as i32),
                )
            }
            _ => (None, None),
        };
        let label = {
            let name = a.filename.clone();
            move || Strings::fill(i18n.t().open_image, "name", &name)
        };
        view! {
            <a
                class="attachment-image"
                href=a.url
                target="_blank"
                rel="noopener"
                aria-label=label
                data-testid="attachment-image"
            >
                <img
                    src=src
                    alt=a.filename
                    loading="lazy"
                    width=width
                    height=height
                />
            </a>
        }
        .into_any()
    } else {
        let size = move || human_size(a.size_bytes, i18n.lang() == Lang::Pl);
        let label = {
            let name = a.filename.clone();
            move || Strings::fill(i18n.t().download_file, "name", &name).replace("{size}", &size())
        };
        view! {
            <a
                class="attachment-file"
                href=a.url
                download=a.filename.clone()
                title=a.filename.clone()
                aria-label=label
                data-testid="attachment-file"
            >
                <span class="attachment-file__icon" aria-hidden="true">"📄"</span>
                <span class="attachment-file__name">{a.filename.clone()}</span>
                <span class="attachment-file__size">{move || size()}</span>
            </a>
        }
        .into_any()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(human_size(0, true), "0 B");
        assert_eq!(human_size(840, true), "840 B");
        assert_eq!(human_size(1536, true), "1,5 KB");
        assert_eq!(human_size(1536, false), "1.5 KB");
        assert_eq!(human_size(12 * 1024 + 100, true), "12 KB");
        assert_eq!(human_size(25 * 1024 * 1024, false), "25 MB");
        assert_eq!(human_size(3 * 1024 * 1024 * 1024 + 1, false), "3 GB");
    }
}
