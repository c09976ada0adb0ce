//! Timestep spacings against diffusers' `DDIMScheduler.set_timesteps` and DDIM's quadratic skip.

use deepgen_diffusion::Spacing;

/// golden.py: TS_<SPACING>_<T>_<n>. For T = 1000, n = 10 these are also the tables of
/// diffusers' docs / Lin et al. 2024 (Table 2): linspace 999…0 by 111, leading 900…0 by 100,
/// trailing 999…99 by 100.
#[test]
fn spacings_match_diffusers() {
    let _serial = crate::common::serial();
    let cases: [(Spacing, usize, usize, &[usize]); 12] = [
        (
            Spacing::Linspace,
            1000,
            10,
            &[999, 888, 777, 666, 555, 444, 333, 222, 111, 0],
        ),
        (
            Spacing::Leading,
            1000,
            10,
            &[900, 800, 700, 600, 500, 400, 300, 200, 100, 0],
        ),
        (
            Spacing::Trailing,
            1000,
            10,
            &[999, 899, 799, 699, 599, 499, 399, 299, 199, 99],
        ),
        (
            Spacing::Quadratic,
            1000,
            10,
            &[800, 632, 483, 355, 246, 158, 88, 39, 9, 0],
        ),
        (
            Spacing::Linspace,
            1000,
            7,
            &[999, 832, 666, 500, 333, 166, 0],
        ),
        (
            Spacing::Leading,
            1000,
            7,
            &[852, 710, 568, 426, 284, 142, 0],
        ),
        (
            Spacing::Trailing,
            1000,
            7,
            &[999, 856, 713, 570, 428, 285, 142],
        ),
        (
            Spacing::Quadratic,
            1000,
            7,
            &[800, 555, 355, 200, 88, 22, 0],
        ),
        (
            Spacing::Linspace,
            100,
            30,
            &[
                99, 96, 92, 89, 85, 82, 79, 75, 72, 68, 65, 61, 58, 55, 51, 48, 44, 41, 38, 34, 31,
                27, 24, 20, 17, 14, 10, 7, 3, 0,
            ],
        ),
        (
            Spacing::Leading,
            100,
            30,
            &[
                87, 84, 81, 78, 75, 72, 69, 66, 63, 60, 57, 54, 51, 48, 45, 42, 39, 36, 33, 30, 27,
                24, 21, 18, 15, 12, 9, 6, 3, 0,
            ],
        ),
        (
            Spacing::Trailing,
            100,
            30,
            &[
                99, 96, 92, 89, 86, 82, 79, 76, 72, 69, 66, 62, 59, 56, 52, 49, 46, 42, 39, 36, 32,
                29, 26, 22, 19, 16, 12, 9, 6, 2,
            ],
        ),
        (Spacing::Trailing, 1000, 1, &[999]),
    ];
    for (spacing, t, n, expected) in cases {
        let got = spacing.checked_timesteps("Test", t, n, 0).unwrap();
        assert_eq!(got, expected, "{spacing:?}, T = {t}, n = {n}");
    }
    // golden.py: TS_TRAILING_1000_50 and TS_LINSPACE_1000_50.
    let trailing50 = Spacing::Trailing.timesteps(1000, 50, 0);
    assert_eq!(trailing50[..4], [999, 979, 959, 939]);
    assert_eq!(*trailing50.last().unwrap(), 19);
    let linspace50 = Spacing::Linspace.timesteps(1000, 50, 0);
    assert_eq!(linspace50[..5], [999, 979, 958, 938, 917]);
    for s in [Spacing::Linspace, Spacing::Leading, Spacing::Quadratic] {
        assert_eq!(s.timesteps(1000, 1, 0), [0], "{s:?}, n = 1");
    }
}

#[test]
fn leading_takes_the_steps_offset() {
    let _serial = crate::common::serial();
    // golden.py: TS_LEADING_1000_10_OFFSET1 (Stable Diffusion's steps_offset = 1).
    let got = Spacing::Leading
        .checked_timesteps("Test", 1000, 10, 1)
        .unwrap();
    assert_eq!(got, [901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    let e = Spacing::Leading
        .checked_timesteps("Test", 1000, 10, 100)
        .unwrap_err();
    assert_eq!(e.field, "steps_offset");
}

#[test]
fn full_chain_is_every_timestep() {
    let _serial = crate::common::serial();
    for s in [Spacing::Linspace, Spacing::Leading, Spacing::Trailing] {
        let v = s.checked_timesteps("Test", 50, 50, 0).unwrap();
        assert_eq!(v, (0..50).rev().collect::<Vec<_>>(), "{s:?}");
    }
}

#[test]
fn bad_step_counts_are_rejected() {
    let _serial = crate::common::serial();
    for s in [
        Spacing::Linspace,
        Spacing::Leading,
        Spacing::Trailing,
        Spacing::Quadratic,
    ] {
        let e = s
            .checked_timesteps("DdimConfig", 1000, 1001, 0)
            .unwrap_err();
        assert_eq!(e.field, "num_inference_steps");
        assert!(e.to_string().starts_with("DdimConfig.num_inference_steps"));
        let e = s.checked_timesteps("DdimConfig", 1000, 0, 0).unwrap_err();
        assert_eq!(e.field, "num_inference_steps");
    }
    // golden.py: DDIM's quadratic skip repeats timesteps for n = 50 of T = 1000 (…, 1, 0, 0)
    // and n = 30 of T = 100; those are rejected rather than sampled twice.
    for (t, n) in [(1000, 50), (100, 30)] {
        let e = Spacing::Quadratic
            .checked_timesteps("DdimConfig", t, n, 0)
            .unwrap_err();
        assert_eq!(e.field, "num_inference_steps");
    }
}

#[test]
fn names_parse_back() {
    let names: Vec<&str> = Spacing::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["linspace", "leading", "trailing", "quadratic"]);
    for s in Spacing::ALL {
        assert_eq!(s.name().parse::<Spacing>(), Ok(s));
        assert_eq!(s.name().to_uppercase().parse::<Spacing>(), Ok(s));
    }
    assert_eq!("linear".parse::<Spacing>(), Ok(Spacing::Linspace));
    let e = "uniform".parse::<Spacing>().unwrap_err();
    assert!(
        e.contains("uniform") && e.contains("leading, trailing"),
        "{e}"
    );
}
