//! The verified download, against a tiny HTTP server on 127.0.0.1 started by
//! the test (no other network). Checks mirror fall-through on HTTP errors and
//! MD5 mismatches, atomic placement, skipping of verified files, and the
//! error that lists every URL tried.
#![cfg(feature = "download")]

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::*;
use deepgen_data::mnist::download::download_files;
use deepgen_data::mnist::{MnistFile, md5_hex};
use deepgen_data::{DataError, Mnist};

/// Serves `GET /good/NAME` with `files[NAME]`, `GET /bad/NAME` with wrong
/// bytes, anything else with 404. Handles at most `max` requests, and stops
/// by itself after 30 s.
fn serve(files: Vec<(String, Vec<u8>)>, max: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut handled = 0;
        while handled < max && Instant::now() < deadline {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            handled += 1;
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let body = files.iter().find_map(|(name, bytes)| {
                if path == format!("/good/{name}") {
                    Some(bytes.clone())
                } else if path == format!("/bad/{name}") {
                    Some(b"not the file you are looking for".to_vec())
                } else {
                    None
                }
            });
            let head = match &body {
                Some(b) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    b.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body.unwrap_or_default());
        }
    });
    port
}

/// The four tiny gzip files and `MnistFile` entries carrying their MD5s.
fn fixture() -> (Vec<(String, Vec<u8>)>, Vec<MnistFile>) {
    let contents = [train_images(), train_labels(), test_images(), test_labels()];
    let mut served = Vec::new();
    let mut files = Vec::new();
    for (name, bytes) in NAMES.iter().zip(contents) {
        let g = gz(&bytes);
        let md5: &'static str = Box::leak(md5_hex(&g).into_boxed_str());
        served.push((format!("{name}.gz"), g));
        files.push(MnistFile {
            name: Box::leak(name.to_string().into_boxed_str()),
            gz_md5: md5,
        });
    }
    (served, files)
}

fn local_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into()
}

#[test]
fn md5_reference_values() {
    // RFC 1321, appendix A.5.
    assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
}

#[test]
fn downloads_verify_and_fall_through_mirrors() {
    let (served, files) = fixture();
    // Per file: 404 mirror, bad-bytes mirror, good mirror = 12 requests.
    let port = serve(served.clone(), 12);
    let base = format!("http://127.0.0.1:{port}");
    let mirrors = [
        format!("{base}/missing/"),
        format!("{base}/bad/"),
        format!("{base}/good/"),
    ];
    let mirrors: Vec<&str> = mirrors.iter().map(String::as_str).collect();
    let tmp = temp_dir("dl");
    let dir = tmp.join("cache").join("mnist");
    download_files(&local_agent(), &dir, &mirrors, &files).unwrap();
    for (name, bytes) in &served {
        assert_eq!(&std::fs::read(dir.join(name)).unwrap(), bytes);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(Mnist::load_dir(&dir).unwrap().train.labels, vec![3, 1, 4]);
    // Everything is present and verified: no mirror is needed any more.
    download_files(&local_agent(), &dir, &[], &files).unwrap();
}

#[test]
fn all_mirrors_failing_is_an_error_naming_each_url() {
    let (served, files) = fixture();
    let port = serve(served, 2);
    let base = format!("http://127.0.0.1:{port}");
    let mirrors = [format!("{base}/missing/"), format!("{base}/bad/")];
    let mirrors: Vec<&str> = mirrors.iter().map(String::as_str).collect();
    let dir = temp_dir("dlfail");
    let err = download_files(&local_agent(), &dir, &mirrors, &files).unwrap_err();
    assert!(
        matches!(err, DataError::Download { ref name, .. } if name == "train-images-idx3-ubyte.gz"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{base}/missing/train-images-idx3-ubyte.gz")),
        "{msg}"
    );
    assert!(msg.contains("404"), "{msg}");
    assert!(
        msg.contains(&format!("{base}/bad/train-images-idx3-ubyte.gz")),
        "{msg}"
    );
    assert!(msg.contains("does not match the canonical"), "{msg}");
    assert!(!dir.join("train-images-idx3-ubyte.gz").exists());
}

#[test]
fn canonical_checksums_are_the_published_ones() {
    use deepgen_data::mnist::MNIST_FILES;
    let md5s: Vec<&str> = MNIST_FILES.iter().map(|f| f.gz_md5).collect();
    assert_eq!(
        md5s,
        [
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3",
            "ec29112dd5afa0611ce80d1b7f02629c"
        ]
    );
}
