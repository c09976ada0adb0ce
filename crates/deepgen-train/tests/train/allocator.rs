//! The glibc allocator tuning every example applies through `Run::start`.

use deepgen_train::allocator::{
    AllocatorTuning, TUNING_ENV, keep_memory_in_process, tuning_enabled,
};

#[test]
fn the_env_switch_parses_and_the_tuning_applies_on_glibc() {
    assert!(tuning_enabled(None));
    for on in ["1", "on", "yes", "", "whatever"] {
        assert!(tuning_enabled(Some(on)), "{on:?}");
    }
    for off in ["off", "0", "false", "no", " OFF ", "False"] {
        assert!(!tuning_enabled(Some(off)), "{off:?}");
    }
    let got = keep_memory_in_process();
    let want = if !tuning_enabled(std::env::var(TUNING_ENV).ok().as_deref()) {
        AllocatorTuning::Disabled
    } else if cfg!(all(target_os = "linux", target_env = "gnu")) {
        AllocatorTuning::Applied
    } else {
        AllocatorTuning::Unsupported
    };
    assert_eq!(got, want);
    // Idempotent: a second call (every Run::start calls it) gives the same answer.
    assert_eq!(keep_memory_in_process(), want);
    // Large blocks still work after the thresholds change.
    let v = vec![1u8; 64 << 20];
    assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), 64 << 20);
}
