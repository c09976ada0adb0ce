//! The MNIST search order, run on explicit `SearchEnv` values (the process
//! environment is never read or changed) with a fake download step (the
//! network is never touched).

use crate::common;

use std::cell::Cell;
use std::path::{Path, PathBuf};

use common::*;
use deepgen_data::DataError;
use deepgen_data::mnist::locate::{SearchEnv, flag_is_set, load_with};

fn no_network(_: &Path) -> Result<(), String> {
    panic!("the download step must not run in this test")
}

/// An environment in which every place is an empty temp directory.
fn empty_env(root: &Path) -> SearchEnv {
    for d in ["bundled", "cwd", "cache"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    SearchEnv {
        data: None,
        cache: Some(root.join("cache")),
        xdg_cache_home: None,
        home: None,
        no_download: false,
        bundled: Some(root.join("bundled")),
        current_dir: Some(root.join("cwd")),
    }
}

#[test]
fn explicit_dir_wins_and_never_falls_through() {
    let root = temp_dir("explicit");
    let env = empty_env(&root);
    write_valid(env.bundled.as_ref().unwrap(), true);
    let good = root.join("good");
    std::fs::create_dir_all(&good).unwrap();
    write_valid(&good, false);
    let m = load_with(Some(&good), &env, no_network).unwrap();
    assert_eq!(m.source, good);
    // A broken explicit directory is an error even though the bundled data is fine.
    let bad = root.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let err = load_with(Some(&bad), &env, no_network).unwrap_err();
    assert!(
        matches!(err, DataError::MissingFile { ref dir, .. } if *dir == bad),
        "{err:?}"
    );
}

#[test]
fn deepgen_data_is_used_and_never_falls_through() {
    let root = temp_dir("envdata");
    let mut env = empty_env(&root);
    write_valid(env.bundled.as_ref().unwrap(), true);
    let d = root.join("envdir");
    std::fs::create_dir_all(d.join("mnist")).unwrap();
    write_valid(&d.join("mnist"), true);
    env.data = Some(d.clone());
    assert_eq!(
        load_with(None, &env, no_network).unwrap().source,
        d.join("mnist")
    );
    env.data = Some(root.join("nowhere"));
    let err = load_with(None, &env, no_network).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");
}

#[test]
fn order_is_bundled_then_cwd_then_cache() {
    let root = temp_dir("order");
    let env = empty_env(&root);
    let cache = env.cache_dir().unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    write_valid(&cache, true);
    assert_eq!(load_with(None, &env, no_network).unwrap().source, cache);
    let cwd_data = root.join("cwd").join("data").join("mnist");
    std::fs::create_dir_all(&cwd_data).unwrap();
    write_valid(&cwd_data, false);
    assert_eq!(load_with(None, &env, no_network).unwrap().source, cwd_data);
    write_valid(env.bundled.as_ref().unwrap(), true);
    assert_eq!(
        &load_with(None, &env, no_network).unwrap().source,
        env.bundled.as_ref().unwrap()
    );
}

#[test]
fn corrupt_bundled_copy_falls_through_to_cache() {
    let root = temp_dir("fallthrough");
    let env = empty_env(&root);
    let bundled = env.bundled.clone().unwrap();
    write_valid(&bundled, true);
    write_file(&bundled, NAMES[1], &idx_labels(3, &[1, 2, 99]), true);
    let cache = env.cache_dir().unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    write_valid(&cache, true);
    assert_eq!(load_with(None, &env, no_network).unwrap().source, cache);
}

#[test]
fn all_failing_lists_every_place_and_the_fixes() {
    let root = temp_dir("allfail");
    let mut env = empty_env(&root);
    env.no_download = true;
    let bundled = env.bundled.clone().unwrap();
    write_valid(&bundled, true);
    write_file(&bundled, NAMES[0], b"garbage", true);
    std::fs::create_dir_all(env.cache_dir().unwrap()).unwrap();
    let err = load_with(None, &env, no_network).unwrap_err();
    let DataError::NotFound { attempts } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(attempts.len(), 4, "{attempts:?}");
    assert!(attempts[0].place.contains("bundled"));
    assert!(
        attempts[0].reason.contains("bad magic"),
        "{}",
        attempts[0].reason
    );
    assert!(attempts[1].place.contains("./data/mnist"));
    assert_eq!(attempts[1].reason, "no such directory");
    assert!(attempts[2].place.contains("user cache"));
    assert!(
        attempts[2]
            .reason
            .contains("missing train-images-idx3-ubyte"),
        "{}",
        attempts[2].reason
    );
    assert!(attempts[3].reason.contains("DEEPGEN_NO_DOWNLOAD"));
    let msg = err.to_string();
    for needle in [
        "--data DIR",
        "DEEPGEN_DATA",
        "data/mnist/",
        bundled.to_str().unwrap(),
    ] {
        assert!(msg.contains(needle), "missing {needle:?} in:\n{msg}");
    }
}

#[test]
fn download_step_fills_the_cache() {
    let root = temp_dir("download");
    let env = empty_env(&root);
    let cache = env.cache_dir().unwrap();
    let called: Cell<Option<PathBuf>> = Cell::new(None);
    let m = load_with(None, &env, |dir| {
        called.set(Some(dir.to_path_buf()));
        std::fs::create_dir_all(dir).unwrap();
        write_valid(dir, true);
        Ok(())
    })
    .unwrap();
    assert_eq!(called.take(), Some(cache.clone()));
    assert_eq!(m.source, cache);
    // A failing download is listed with its reason.
    let root = temp_dir("download-fail");
    let env = empty_env(&root);
    let err = load_with(None, &env, |_| Err("mirror said 503".to_string())).unwrap_err();
    let DataError::NotFound { attempts } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(attempts.last().unwrap().reason, "mirror said 503");
}

#[test]
fn cache_dir_precedence() {
    let mut env = SearchEnv {
        cache: Some("/c".into()),
        xdg_cache_home: Some("/x".into()),
        home: Some("/h".into()),
        ..SearchEnv::default()
    };
    assert_eq!(env.cache_dir(), Some(PathBuf::from("/c/mnist")));
    env.cache = None;
    assert_eq!(env.cache_dir(), Some(PathBuf::from("/x/deepgen/mnist")));
    env.xdg_cache_home = Some("relative".into());
    assert_eq!(
        env.cache_dir(),
        Some(PathBuf::from("/h/.cache/deepgen/mnist"))
    );
    env.home = None;
    assert_eq!(env.cache_dir(), None);
}

#[test]
fn no_cache_dir_skips_download_with_a_reason() {
    let root = temp_dir("nocache");
    let mut env = empty_env(&root);
    env.cache = None;
    let err = load_with(None, &env, no_network).unwrap_err();
    let DataError::NotFound { attempts } = &err else {
        panic!("{err:?}")
    };
    assert!(
        attempts.iter().any(|a| a.reason.contains("HOME")),
        "{attempts:?}"
    );
    assert!(
        attempts
            .last()
            .unwrap()
            .reason
            .contains("no cache directory")
    );
}

#[test]
fn flag_values() {
    for on in ["1", "true", "YES", "on", "anything"] {
        assert!(flag_is_set(on), "{on}");
    }
    for off in ["", "0", "false", "No", "OFF", " 0 "] {
        assert!(!flag_is_set(off), "{off}");
    }
}
