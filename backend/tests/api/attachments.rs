//! Attachments: uploading (multipart, limits, sniffed types, safe names),
//! sending them with a message, downloading with safe headers, who may
//! read them (404 for everyone else), thumbnails, and the removal of
//! uploads never attached.

use std::io::Cursor;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use reqwest::multipart::{Form, Part};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{Value, json};
use shared::dto::messages::{AttachmentDto, MessageDto, MessagePage};

use backend::db::entities::{conv_messages, message_attachments};

use crate::db_test;
use crate::helpers::{Db, TestApp, TestUser, assert_problem, spawn_app_with};

/// Runs a test on both databases with extra `serve` flags.
macro_rules! db_test_with {
    ($name:ident, $args:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let $app = spawn_app_with(Db::Postgres, &$args).await;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = spawn_app_with(Db::Sqlite, &$args).await;
                $body
            }
        }
    };
}

/// A file to upload: name, the type the client claims, bytes.
struct File<'a>(&'a str, &'a str, Vec<u8>);

/// POST /api/attachments with the files as a browser sends them (UTF-8
/// names as they are).
async fn upload(app: &TestApp, who: &TestUser, files: &[File<'_>]) -> reqwest::Response {
    let mut form = Form::new().percent_encode_noop();
    for File(name, ct, bytes) in files {
        let part = Part::bytes(bytes.clone())
            .file_name(name.to_string())
            .mime_str(ct)
            .expect("mime");
        form = form.part("file", part);
    }
    who.client
        .post(app.url("/api/attachments"))
        .multipart(form)
        .send()
        .await
        .expect("request")
}

async fn upload_ok(app: &TestApp, who: &TestUser, files: &[File<'_>]) -> Vec<AttachmentDto> {
    let r = upload(app, who, files).await;
    assert_eq!(r.status(), 201, "upload");
    let got: Vec<AttachmentDto> = r.json().await.expect("attachments json");
    assert_eq!(got.len(), files.len());
    got
}

/// One file part written by hand, with the Content-Disposition parameters
/// given exactly (for names a client library would encode for us).
async fn upload_raw(
    app: &TestApp,
    who: &TestUser,
    params: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let boundary = "graniczka-7f3a9c";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; {params}\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    who.client
        .post(app.url("/api/attachments"))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("request")
}

async fn send_with(
    app: &TestApp,
    who: &TestUser,
    cid: i64,
    content: &str,
    ids: &[i64],
) -> reqwest::Response {
    app.post(
        who,
        &format!("/api/conversations/{cid}/messages"),
        json!({ "content": content, "attachment_ids": ids }),
    )
    .await
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

fn attachments_dir(app: &TestApp) -> PathBuf {
    app.test_db_dir().join("data").join("attachments")
}

fn object_exists(app: &TestApp, key: &str) -> bool {
    attachments_dir(app).join(key).is_file()
}

/// Every file under the attachments folder.
fn stored_files(app: &TestApp) -> Vec<PathBuf> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&attachments_dir(app), &mut out);
    out
}

async fn rows(app: &TestApp) -> Vec<message_attachments::Model> {
    message_attachments::Entity::find()
        .order_by_asc(message_attachments::Column::Id)
        .all(&app.db)
        .await
        .expect("rows")
}

async fn row(app: &TestApp, id: i64) -> Option<message_attachments::Model> {
    message_attachments::Entity::find_by_id(id)
        .one(&app.db)
        .await
        .expect("row")
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("ascii header")
        .to_owned()
}

/// A 404 as a client sees it, without the request id.
async fn not_found_body(r: reqwest::Response) -> Value {
    assert_eq!(r.status(), 404);
    assert_eq!(header(&r, "content-type"), "application/problem+json");
    let mut body: Value = r.json().await.expect("json");
    body.as_object_mut().expect("object").remove("request_id");
    body
}

async fn page(app: &TestApp, who: &TestUser, cid: i64) -> MessagePage {
    let r = app
        .get(who, &format!("/api/conversations/{cid}/messages"))
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.expect("page")
}

db_test!(uploads_one_and_several_then_a_message_lists_them, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;

    let one = upload_ok(
        &app,
        &anna,
        &[File(
            "notatki.txt",
            "text/plain",
            b"lista zakupow\n".to_vec(),
        )],
    )
    .await;
    assert_eq!(one[0].filename, "notatki.txt");
    assert_eq!(one[0].content_type, "text/plain");
    assert_eq!(one[0].size_bytes, 14);
    assert_eq!(one[0].url, format!("/api/attachments/{}", one[0].id));
    assert_eq!(one[0].thumbnail_url, None);

    let two = upload_ok(
        &app,
        &anna,
        &[
            File(
                "raport.pdf",
                "application/pdf",
                b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n".to_vec(),
            ),
            File(
                "dane.bin",
                "application/octet-stream",
                vec![0, 1, 2, 3, 255],
            ),
        ],
    )
    .await;
    assert_eq!(two[0].content_type, "application/pdf");
    assert_eq!(two[1].content_type, "application/octet-stream");
    for a in one.iter().chain(&two) {
        let r = row(&app, a.id).await.expect("row");
        assert_eq!(r.message_id, None, "unattached until sent");
        assert_eq!(r.uploader_id, Some(anna.id));
        assert!(object_exists(&app, &r.storage_key));
    }

    let ids = [two[1].id, one[0].id, two[0].id];
    let r = send_with(&app, &anna, c.id, "w załączeniu", &ids).await;
    assert_eq!(r.status(), 201);
    let m: MessageDto = r.json().await.unwrap();
    let listed: Vec<i64> = m.attachments.iter().map(|a| a.id).collect();
    assert_eq!(listed, [one[0].id, two[0].id, two[1].id], "in upload order");
    assert_eq!(m.attachments[0], one[0]);

    let p = page(&app, &jan, c.id).await;
    assert_eq!(p.items[0].attachments, m.attachments);
    for a in &m.attachments {
        assert_eq!(row(&app, a.id).await.unwrap().message_id, Some(m.id));
    }
});

db_test!(
    a_member_downloads_the_exact_bytes_with_safe_headers,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let bytes = png(40, 30);
        let up = upload_ok(
            &app,
            &anna,
            &[File("Zdjęcie z Łodzi.png", "image/png", bytes.clone())],
        )
        .await;
        // The uploader can see their own upload before sending it.
        let r = app.get(&anna, &up[0].url).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap(), bytes);

        let r = send_with(&app, &anna, c.id, "", &[up[0].id]).await;
        assert_eq!(r.status(), 201);
        let r = app.get(&jan, &up[0].url).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-type"), "image/png");
        assert_eq!(header(&r, "content-length"), bytes.len().to_string());
        assert_eq!(
            header(&r, "content-disposition"),
            "inline; filename=\"Zdjecie z Lodzi.png\"; \
         filename*=UTF-8''Zdj%C4%99cie%20z%20%C5%81odzi.png"
        );
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert_eq!(
            header(&r, "content-security-policy"),
            "default-src 'none'; sandbox"
        );
        assert!(header(&r, "cache-control").starts_with("private"));
        let etag = header(&r, "etag");
        assert_eq!(r.bytes().await.unwrap(), bytes);

        // A client that has it already gets 304 and no body.
        let r = jan
            .client
            .get(app.url(&up[0].url))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304);
        assert_eq!(header(&r, "etag"), etag);
        assert!(r.bytes().await.unwrap().is_empty());

        // Bearer-token clients download the same way.
        let (_, token) = app.token_for("jan@firma.pl").await;
        let r = crate::helpers::bare_client()
            .get(app.url(&up[0].url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap(), bytes);
    }
);

db_test!(
    outsiders_get_the_same_404_as_for_an_id_that_does_not_exist,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let ola = app.user("Ola").await;
        let g = app.conversation(&anna, &[&jan, &ola], Some("Zespół")).await;
        let other = app.conversation(&anna, &[&ola], None).await;
        let sent =
            upload_ok(&app, &anna, &[File("a.png", "image/png", png(8, 8))]).await[0].clone();
        let pending = upload_ok(
            &app,
            &anna,
            &[File("b.txt", "text/plain", b"tajne".to_vec())],
        )
        .await[0]
            .clone();
        assert_eq!(
            send_with(&app, &anna, g.id, "dla zespołu", &[sent.id])
                .await
                .status(),
            201
        );
        app.send(&anna, other.id, "tylko dla Oli").await;
        let stranger = app.user("Obcy").await;

        let missing = not_found_body(app.get(&stranger, "/api/attachments/999999").await).await;
        let missing_thumb = not_found_body(
            app.get(&stranger, "/api/attachments/999999/thumbnail")
                .await,
        )
        .await;
        // A stranger, and a member of the group asking for someone's unsent upload.
        for (who, path) in [
            (&stranger, sent.url.clone()),
            (&stranger, pending.url.clone()),
            (&jan, pending.url.clone()),
        ] {
            assert_eq!(
                not_found_body(app.get(who, &path).await).await,
                missing,
                "{path}"
            );
            assert_eq!(
                not_found_body(app.get(who, &format!("{path}/thumbnail")).await).await,
                missing_thumb
            );
        }
        // A member who leaves loses access.
        assert_eq!(app.get(&ola, &sent.url).await.status(), 200);
        let r = app
            .delete(
                &ola,
                &format!("/api/conversations/{}/members/{}", g.id, ola.id),
            )
            .await;
        assert!(r.status().is_success());
        assert_eq!(
            not_found_body(app.get(&ola, &sent.url).await).await,
            missing
        );
        assert_eq!(app.get(&jan, &sent.url).await.status(), 200);
        // Without a session: 401 before anything is looked up.
        let r = crate::helpers::bare_client()
            .get(app.url(&sent.url))
            .send()
            .await
            .unwrap();
        assert_problem(r, 401, "unauthenticated").await;
    }
);

db_test!(only_your_own_unattached_uploads_can_be_sent, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let jans = upload_ok(
        &app,
        &jan,
        &[File("j.txt", "text/plain", b"od Jana".to_vec())],
    )
    .await[0]
        .clone();
    let annas = upload_ok(
        &app,
        &anna,
        &[File("a.txt", "text/plain", b"od Anny".to_vec())],
    )
    .await[0]
        .clone();
    let before = rows(&app).await;
    let messages = conv_messages::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .len();

    // Someone else's upload, even next to one's own: refused, nothing changes.
    let r = send_with(&app, &anna, c.id, "cudze", &[annas.id, jans.id]).await;
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p.errors[0].field, "attachment_ids");
    assert_eq!(rows(&app).await, before);
    assert_eq!(
        conv_messages::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .len(),
        messages
    );

    // Once attached, an upload cannot be attached again.
    assert_eq!(
        send_with(&app, &anna, c.id, "moje", &[annas.id])
            .await
            .status(),
        201
    );
    let before = rows(&app).await;
    let r = send_with(&app, &anna, c.id, "jeszcze raz", &[annas.id]).await;
    assert_problem(r, 422, "validation_failed").await;
    assert_eq!(rows(&app).await, before);
});

db_test!(eleven_attachments_are_too_many, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let files: Vec<File> = (0..11)
        .map(|i| File("x.txt", "text/plain", format!("plik {i}").into_bytes()))
        .collect();
    // More than ten files in one upload: refused, nothing kept.
    let r = upload(&app, &anna, &files).await;
    let p = assert_problem(r, 422, "validation_failed").await;
    assert!(p.detail.unwrap_or_default().contains("10"));
    assert!(rows(&app).await.is_empty());
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));

    let mut ids: Vec<i64> = upload_ok(&app, &anna, &files[..10])
        .await
        .iter()
        .map(|a| a.id)
        .collect();
    ids.push(upload_ok(&app, &anna, &files[10..]).await[0].id);
    let before = rows(&app).await;
    let r = send_with(&app, &anna, c.id, "jedenaście", &ids).await;
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p.errors[0].field, "attachment_ids");
    assert_eq!(rows(&app).await, before);
    let r = send_with(&app, &anna, c.id, "dziesięć", &ids[..10]).await;
    assert_eq!(r.status(), 201);
    let m: MessageDto = r.json().await.unwrap();
    assert_eq!(m.attachments.len(), 10);
});

db_test_with!(
    an_oversized_file_is_413_and_leaves_nothing_behind,
    ["--max-upload-bytes", "1000"],
    |app| {
        let anna = app.user("Anna").await;
        // The first file fits, the second does not: the whole upload is refused.
        let r = upload(
            &app,
            &anna,
            &[
                File("ok.txt", "text/plain", vec![b'a'; 1000]),
                File("big.txt", "text/plain", vec![b'b'; 1001]),
            ],
        )
        .await;
        let p = assert_problem(r, 413, "payload_too_large").await;
        assert!(p.detail.unwrap_or_default().contains("1000"));
        assert!(rows(&app).await.is_empty());
        // The first file's cleanup may finish just after the answer.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !stored_files(&app).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
        // A body declared far too large is refused before it is read.
        let r = anna
            .client
            .post(app.url("/api/attachments"))
            .header("content-type", "multipart/form-data; boundary=x")
            .body(vec![b'x'; 200_000])
            .send()
            .await
            .unwrap();
        assert_problem(r, 413, "payload_too_large").await;
        // At the limit exactly is fine; MAX_JSON_BYTES plays no part.
        let up = upload_ok(
            &app,
            &anna,
            &[File("ok.txt", "text/plain", vec![b'a'; 1000])],
        )
        .await;
        assert_eq!(up[0].size_bytes, 1000);
    }
);

db_test!(a_large_file_streams_in_and_out_intact, |app| {
    let anna = app.user("Anna").await;
    // Larger than the JSON limit and than one storage write (5 MiB).
    let bytes: Vec<u8> = (0..6 * 1024 * 1024 + 123)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let up = upload_ok(
        &app,
        &anna,
        &[File("duzy.bin", "application/octet-stream", bytes.clone())],
    )
    .await;
    assert_eq!(up[0].size_bytes, bytes.len() as i64);
    let r = app.get(&anna, &up[0].url).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-disposition").starts_with("attachment;"));
    assert_eq!(r.bytes().await.unwrap(), bytes);
});

db_test!(the_type_comes_from_the_bytes_not_the_client, |app| {
    let anna = app.user("Anna").await;
    let up = upload_ok(
        &app,
        &anna,
        &[
            File("notatka.txt", "text/plain", png(4, 4)),
            File(
                "kot.png",
                "image/png",
                b"<!DOCTYPE html><script>alert(1)</script>".to_vec(),
            ),
            File(
                "logo.png",
                "image/png",
                b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"
                    .to_vec(),
            ),
            File("run.jpg", "image/jpeg", b"#!/bin/sh\nrm -rf ~\n".to_vec()),
        ],
    )
    .await;
    assert_eq!(up[0].content_type, "image/png");
    assert_eq!(up[1].content_type, "text/html");
    assert_eq!(up[2].content_type, "image/svg+xml");
    assert_eq!(up[3].content_type, "text/x-shellscript");

    let r = app.get(&anna, &up[0].url).await;
    assert_eq!(header(&r, "content-type"), "image/png");
    assert!(header(&r, "content-disposition").starts_with("inline;"));
    for (a, ct) in [
        (&up[1], "text/html"),
        (&up[2], "image/svg+xml"),
        (&up[3], "text/x-shellscript"),
    ] {
        let r = app.get(&anna, &a.url).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-type"), ct);
        let cd = header(&r, "content-disposition");
        assert!(cd.starts_with("attachment;"), "{cd}");
        assert!(cd.contains(&format!("filename=\"{}\"", a.filename)), "{cd}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        assert_eq!(
            header(&r, "content-security-policy"),
            "default-src 'none'; sandbox"
        );
    }
});

db_test!(file_names_are_made_safe_and_kept_for_display, |app| {
    let anna = app.user("Anna").await;
    let cases: [(&str, &[u8], &str); 5] = [
        ("filename=\"../../etc/passwd\"", b"root:x:0:0", "passwd"),
        ("filename=\"C:\\\\temp\\\\zdj.txt\"", b"x", "zdj.txt"),
        (
            "filename*=UTF-8''a%07b%0A%0Dc%E2%80%AE.txt",
            b"x",
            "abc.txt",
        ),
        (
            "filename=\"Zażółć gęślą jaźń.txt\"",
            b"x",
            "Zażółć gęślą jaźń.txt",
        ),
        ("filename=\"..\"", b"x", "file"),
    ];
    for (params, bytes, want) in cases {
        let r = upload_raw(&app, &anna, params, bytes).await;
        assert_eq!(r.status(), 201, "{params}");
        let got: Vec<AttachmentDto> = r.json().await.unwrap();
        assert_eq!(got[0].filename, want, "{params}");
        assert_eq!(row(&app, got[0].id).await.unwrap().filename, want);
    }
    // A part that is not a file is refused.
    let boundary = "b0undary";
    let r = anna
        .client
        .post(app.url("/api/attachments"))
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"opis\"\r\n\r\ntekst\r\n--{boundary}--\r\n"
        ))
        .send()
        .await
        .unwrap();
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p.errors[0].field, "opis");
});

db_test!(bad_uploads_are_refused_with_problems, |app| {
    let anna = app.user("Anna").await;
    let r = anna
        .client
        .post(app.url("/api/attachments"))
        .json(&json!({"file": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(r, 415, "unsupported_media_type").await;
    // No parts at all (RFC 2046 asks for at least one).
    let r = anna
        .client
        .post(app.url("/api/attachments"))
        .multipart(Form::new())
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "malformed_body").await;
    // An empty file.
    let r = upload(&app, &anna, &[File("pusty.txt", "text/plain", Vec::new())]).await;
    let p = assert_problem(r, 422, "validation_failed").await;
    assert_eq!(p.errors[0].field, "file");
    assert!(p.errors[0].message.contains("pusty.txt"), "{p:?}");
    // A body cut short.
    let r = anna
        .client
        .post(app.url("/api/attachments"))
        .header("content-type", "multipart/form-data; boundary=zz")
        .body(
            "--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc",
        )
        .send()
        .await
        .unwrap();
    assert_problem(r, 400, "malformed_body").await;
    // Not signed in; a cookie request from another site.
    let r = crate::helpers::bare_client()
        .post(app.url("/api/attachments"))
        .multipart(Form::new().part("file", Part::bytes(b"x".to_vec()).file_name("a.txt")))
        .send()
        .await
        .unwrap();
    assert_problem(r, 401, "unauthenticated").await;
    assert!(rows(&app).await.is_empty());
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
});

db_test!(images_get_a_thumbnail_of_at_most_480_px, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let up = upload_ok(
        &app,
        &anna,
        &[
            File("panorama.png", "image/png", png(1200, 600)),
            File("opis.txt", "text/plain", b"nie obraz".to_vec()),
        ],
    )
    .await;
    let thumb = format!("{}/thumbnail", up[0].url);
    let deadline = Instant::now() + Duration::from_secs(20);
    let r = loop {
        let r = app.get(&anna, &thumb).await;
        if r.status() == 200 || Instant::now() > deadline {
            break r;
        }
        assert_eq!(r.status(), 404, "404 until it is ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r.status(), 200, "thumbnail made");
    assert_eq!(header(&r, "content-type"), "image/jpeg");
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    let img = image::load_from_memory(&r.bytes().await.unwrap()).expect("a real image");
    assert_eq!((img.width(), img.height()), (480, 240));
    let stored = row(&app, up[0].id).await.unwrap();
    assert!(stored.has_thumbnail);
    assert_eq!((stored.width, stored.height), (Some(1200), Some(600)));
    assert!(object_exists(
        &app,
        &format!("{}.thumb.jpg", stored.storage_key)
    ));

    // Not an image: never a thumbnail.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.get(&anna, &format!("{}/thumbnail", up[1].url))
            .await
            .status(),
        404
    );
    assert!(!row(&app, up[1].id).await.unwrap().has_thumbnail);

    let r = send_with(&app, &anna, c.id, "widok", &[up[0].id, up[1].id]).await;
    let m: MessageDto = r.json().await.unwrap();
    assert_eq!(
        m.attachments[0].thumbnail_url.as_deref(),
        Some(thumb.as_str())
    );
    assert_eq!(
        (m.attachments[0].width, m.attachments[0].height),
        (Some(1200), Some(600))
    );
    assert_eq!(m.attachments[1].thumbnail_url, None);
    assert_eq!(app.get(&jan, &thumb).await.status(), 200);
});

db_test_with!(
    unattached_uploads_are_removed_after_the_retention,
    ["--attachment-retention", "2s"],
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let up = upload_ok(
            &app,
            &anna,
            &[
                File("zapomniany.png", "image/png", png(600, 10)),
                File("wyslany.txt", "text/plain", b"zostaje".to_vec()),
            ],
        )
        .await;
        assert_eq!(
            send_with(&app, &anna, c.id, "", &[up[1].id]).await.status(),
            201
        );
        let forgotten = row(&app, up[0].id).await.unwrap();
        let kept = row(&app, up[1].id).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while row(&app, up[0].id).await.is_some() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            row(&app, up[0].id).await.is_none(),
            "the unattached upload is removed"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while object_exists(&app, &forgotten.storage_key) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(!object_exists(&app, &forgotten.storage_key));
        assert!(!object_exists(
            &app,
            &format!("{}.thumb.jpg", forgotten.storage_key)
        ));
        assert_eq!(app.get(&anna, &up[0].url).await.status(), 404);

        // The attached one stays, however old.
        assert_eq!(row(&app, up[1].id).await, Some(kept.clone()));
        assert!(object_exists(&app, &kept.storage_key));
        let r = app.get(&jan, &up[1].url).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap(), &b"zostaje"[..]);
        // Too late to send the removed one.
        let r = send_with(&app, &anna, c.id, "", &[up[0].id]).await;
        assert_problem(r, 422, "validation_failed").await;
    }
);

db_test!(a_deleted_messages_attachments_are_gone, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let c = app.conversation(&anna, &[&jan], None).await;
    let up = upload_ok(&app, &anna, &[File("a.png", "image/png", png(10, 10))]).await;
    let r = send_with(&app, &anna, c.id, "", &[up[0].id]).await;
    assert_eq!(
        r.status(),
        201,
        "a message of attachments only needs no text"
    );
    let m: MessageDto = r.json().await.unwrap();
    assert_eq!(m.content.as_deref(), Some(""));
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(app.get(&jan, &up[0].url).await.status(), 200);

    let r = app.delete(&anna, &format!("/api/messages/{}", m.id)).await;
    assert_eq!(r.status(), 204);
    let missing = not_found_body(app.get(&jan, "/api/attachments/999999").await).await;
    for who in [&anna, &jan] {
        assert_eq!(
            not_found_body(app.get(who, &up[0].url).await).await,
            missing
        );
        assert_eq!(
            app.get(who, &format!("{}/thumbnail", up[0].url))
                .await
                .status(),
            404
        );
    }
    let p = page(&app, &jan, c.id).await;
    assert!(p.items[0].is_deleted && p.items[0].attachments.is_empty());
    // Deleting the message deletes its files too.
    assert!(row(&app, up[0].id).await.is_none());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !stored_files(&app).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
});

db_test!(deleting_a_conversation_deletes_its_files, |app| {
    let anna = app.user("Anna").await;
    let jan = app.user("Jan").await;
    let g = app.conversation(&anna, &[&jan], Some("Na chwilę")).await;
    let keep = app.conversation(&anna, &[&jan], None).await;
    let up = upload_ok(
        &app,
        &anna,
        &[
            File("a.txt", "text/plain", b"a".to_vec()),
            File("b.txt", "text/plain", b"b".to_vec()),
        ],
    )
    .await;
    assert_eq!(
        send_with(&app, &anna, g.id, "", &[up[0].id]).await.status(),
        201
    );
    assert_eq!(
        send_with(&app, &anna, keep.id, "", &[up[1].id])
            .await
            .status(),
        201
    );
    let kept = row(&app, up[1].id).await.unwrap();
    let r = app
        .delete(&anna, &format!("/api/conversations/{}", g.id))
        .await;
    assert!(r.status().is_success());
    assert!(row(&app, up[0].id).await.is_none());
    let deadline = Instant::now() + Duration::from_secs(5);
    while stored_files(&app).len() > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        stored_files(&app),
        [attachments_dir(&app).join(&kept.storage_key)]
    );
});

db_test!(
    two_instances_sweeping_at_once_remove_each_upload_once,
    |app| {
        let peer = app.spawn_peer().await;
        let anna = app.user("Anna").await;
        let files: Vec<File> = (0..10)
            .map(|i| File("x.txt", "text/plain", format!("plik {i}").into_bytes()))
            .collect();
        let mut n = 0;
        for _ in 0..3 {
            n += upload_ok(&app, &anna, &files).await.len();
        }
        let kept = upload_ok(&app, &anna, &files[..1]).await[0].clone();
        let c = app
            .conversation(&anna, &[&app.user("Jan").await], None)
            .await;
        assert_eq!(
            send_with(&app, &anna, c.id, "", &[kept.id]).await.status(),
            201
        );

        let cutoff = chrono::Utc::now() + chrono::Duration::seconds(1);
        let (a, b) = tokio::join!(
            backend::domain::attachments::remove_unattached(&app.state, cutoff),
            backend::domain::attachments::remove_unattached(&peer.state, cutoff),
        );
        assert_eq!(
            a.unwrap() + b.unwrap(),
            n,
            "each upload removed exactly once"
        );
        let left = rows(&app).await;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, kept.id);
        assert_eq!(
            stored_files(&app),
            [attachments_dir(&app).join(&left[0].storage_key)]
        );
    }
);

async fn wait_for_thumbnail(app: &TestApp, id: i64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if row(app, id).await.is_some_and(|r| r.has_thumbnail) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// As if the process had stopped before the thumbnail job ran.
async fn forget_thumbnail(app: &TestApp, id: i64) {
    let key = row(app, id).await.unwrap().storage_key;
    std::fs::remove_file(attachments_dir(app).join(format!("{key}.thumb.jpg"))).unwrap();
    app.exec(&format!(
        "UPDATE message_attachments SET has_thumbnail = false, width = NULL, height = NULL \
         WHERE id = {id}"
    ))
    .await;
}

db_test!(
    a_thumbnail_lost_to_a_restart_is_made_at_the_next_start,
    |app| {
        let anna = app.user("Anna").await;
        let jan = app.user("Jan").await;
        let c = app.conversation(&anna, &[&jan], None).await;
        let up =
            upload_ok(&app, &anna, &[File("a.png", "image/png", png(900, 300))]).await[0].clone();
        let thumb = format!("{}/thumbnail", up.url);
        assert!(wait_for_thumbnail(&app, up.id).await);
        forget_thumbnail(&app, up.id).await;
        assert_eq!(app.get(&anna, &thumb).await.status(), 404);

        let _restarted = app.spawn_peer().await;
        assert!(wait_for_thumbnail(&app, up.id).await, "made again at start");
        let r = app.get(&anna, &thumb).await;
        assert_eq!(r.status(), 200);
        let img = image::load_from_memory(&r.bytes().await.unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), (480, 160));

        // Sent before its thumbnail was made: the members hear when it is.
        forget_thumbnail(&app, up.id).await;
        let r = send_with(&app, &anna, c.id, "", &[up.id]).await;
        let m: MessageDto = r.json().await.unwrap();
        assert_eq!(m.attachments[0].thumbnail_url, None);
        let mut events = app.state.bus.subscribe(jan.id);
        backend::jobs::attachments::spawn_thumbnail_catch_up(app.state.clone());
        let ev = tokio::time::timeout(Duration::from_secs(20), events.recv())
            .await
            .expect("an event")
            .expect("event");
        match &ev.event() {
            shared::Event::MessageEdited { message } => {
                assert_eq!(message.id, m.id);
                assert_eq!(
                    message.attachments[0].thumbnail_url.as_deref(),
                    Some(thumb.as_str())
                );
                assert_eq!(message.attachments[0].width, Some(900));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
);
