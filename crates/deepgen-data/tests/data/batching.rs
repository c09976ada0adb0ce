//! Seeded batching and binarisation: determinism, coverage, and Bernoulli
//! statistics with documented tolerances (fixed seeds throughout).

use burn::tensor::Device;
use deepgen_data::mnist::locate::BUNDLED_DIR;
use deepgen_data::{
    BatchPlan, Binarization, DataError, Mnist, MnistSplit, epoch_batches, images_host,
    images_tensor, images_tensor_4d, labels_tensor, split_validation, static_binarized,
};
use deepgen_tensor::{HostRng, Validate};

/// 300 images of 4x5 whose pixels take every byte value in turn.
fn synthetic(n: usize) -> MnistSplit {
    MnistSplit {
        images: (0..n * 20).map(|i| (i * 37 % 256) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        rows: 4,
        cols: 5,
    }
}

#[test]
fn equal_seeds_give_equal_orders_and_epochs_differ() {
    let a = epoch_batches(1000, 64, true, 42, 3, false).unwrap();
    let b = epoch_batches(1000, 64, true, 42, 3, false).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, epoch_batches(1000, 64, true, 42, 4, false).unwrap());
    assert_ne!(a, epoch_batches(1000, 64, true, 43, 3, false).unwrap());
    let plan = BatchPlan::new(1000, 64, true, 42, false).unwrap();
    assert_eq!(plan.epoch(3), a);
}

#[test]
fn every_index_exactly_once() {
    for (len, bs) in [(1000, 64), (7, 3), (5, 5), (5, 10), (0, 4)] {
        let plan = BatchPlan::new(len, bs, true, 9, false).unwrap();
        let batches = plan.epoch(0);
        assert_eq!(batches.len(), plan.batches_per_epoch());
        assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= bs));
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..len).collect::<Vec<_>>(), "len {len} bs {bs}");
    }
}

#[test]
fn drop_last_keeps_only_full_batches_without_repeats() {
    let plan = BatchPlan::new(1000, 64, true, 1, true).unwrap();
    let batches = plan.epoch(5);
    assert_eq!(batches.len(), 15);
    assert_eq!(plan.batches_per_epoch(), 15);
    assert!(batches.iter().all(|b| b.len() == 64));
    let mut all = batches.concat();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 960);
}

#[test]
fn unshuffled_order_is_sequential() {
    let batches = epoch_batches(10, 4, false, 0, 7, false).unwrap();
    assert_eq!(
        batches,
        vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
    );
}

#[test]
fn zero_batch_size_is_an_error() {
    let err = epoch_batches(10, 0, true, 0, 0, false).unwrap_err();
    match &err {
        DataError::Config(e) => {
            assert_eq!((e.config, e.field.as_str()), ("BatchPlan", "batch_size"))
        }
        other => panic!("expected a config error, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "BatchPlan.batch_size: must be at least 1, got 0"
    );
    // The same check through `Validate`, on a plan built by hand.
    let plan = BatchPlan {
        len: 10,
        batch_size: 0,
        shuffle: false,
        seed: 0,
        drop_last: false,
    };
    assert_eq!(plan.validate().unwrap_err().field, "batch_size");
}

#[test]
fn grey_levels_are_pixel_over_255() {
    let s = synthetic(10);
    let mut rng = HostRng::seed_from_u64(0);
    let v = images_host(&s, &[3, 1], Binarization::None, &mut rng);
    assert_eq!(v.len(), 40);
    for (j, &x) in s.image(3).iter().chain(s.image(1)).enumerate() {
        assert_eq!(v[j], x as f32 / 255.0);
    }
    assert_eq!(
        rng,
        HostRng::seed_from_u64(0),
        "grey levels must not draw from the rng"
    );
}

#[test]
fn static_binarization_is_fixed_per_image() {
    let s = synthetic(300);
    let bin = Binarization::Static { seed: 5 };
    let mut rng = HostRng::seed_from_u64(0);
    let a = images_host(&s, &[2, 0, 7], bin, &mut rng);
    let b = images_host(&s, &[7, 2], bin, &mut HostRng::seed_from_u64(99));
    // Same image, same bits, whatever the batch, order or rng.
    assert_eq!(&a[0..20], &b[20..40]);
    assert_eq!(&a[40..60], &b[0..20]);
    assert!(a.iter().all(|&x| x == 0.0 || x == 1.0));
    assert_eq!(
        rng,
        HostRng::seed_from_u64(0),
        "static bits must not draw from the rng"
    );
    // The materialised copy holds exactly these bits.
    let fixed = static_binarized(&s, 5);
    let all: Vec<usize> = (0..300).collect();
    let bits = images_host(&s, &all, bin, &mut rng);
    let copy = images_host(&fixed, &all, Binarization::None, &mut rng);
    assert_eq!(bits, copy);
    // Another seed is another dataset.
    assert_ne!(
        bits,
        images_host(&s, &all, Binarization::Static { seed: 6 }, &mut rng)
    );
    // Pixels 0 and 255 are deterministic.
    for (x, b) in s.images.iter().zip(&bits) {
        if *x == 0 {
            assert_eq!(*b, 0.0);
        }
        if *x == 255 {
            assert_eq!(*b, 1.0);
        }
    }
    // Training positions survive split_validation.
    let (train, valid) = split_validation(&s, 50).unwrap();
    assert_eq!((train.len(), valid.len()), (250, 50));
    let t: Vec<usize> = (0..250).collect();
    assert_eq!(images_host(&train, &t, bin, &mut rng), bits[..250 * 20]);
}

#[test]
fn static_frequency_matches_grey_level() {
    // One image of 20 000 pixels at level 100: P(1) = 100/255 = 0.392157;
    // standard error sqrt(p(1-p)/20000) = 0.00345, tolerance 5 SE = 0.0173.
    let s = MnistSplit {
        images: vec![100; 20_000],
        labels: vec![0],
        rows: 100,
        cols: 200,
    };
    let v = images_host(
        &s,
        &[0],
        Binarization::Static { seed: 3 },
        &mut HostRng::seed_from_u64(0),
    );
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    assert!((mean - 100.0 / 255.0).abs() < 0.0173, "{mean}");
}

#[test]
fn dynamic_binarization_is_fresh_and_unbiased() {
    // 200 draws of an image of 500 pixels at level 128: n = 100 000 bits,
    // p = 128/255 = 0.501961, SE = 0.00158, tolerance 5 SE = 0.0079.
    let s = MnistSplit {
        images: vec![128; 500],
        labels: vec![1],
        rows: 20,
        cols: 25,
    };
    let mut rng = HostRng::seed_from_u64(11);
    let first = images_host(&s, &[0], Binarization::Dynamic, &mut rng);
    let second = images_host(&s, &[0], Binarization::Dynamic, &mut rng);
    assert_ne!(first, second, "each batch must draw fresh bits");
    let mut ones = 0.0;
    for _ in 0..200 {
        ones += images_host(&s, &[0], Binarization::Dynamic, &mut rng)
            .iter()
            .sum::<f32>() as f64;
    }
    let mean = ones / 100_000.0;
    assert!((mean - 128.0 / 255.0).abs() < 0.0079, "{mean}");
    // Reproducible from the seed.
    let mut r1 = HostRng::seed_from_u64(4);
    let mut r2 = HostRng::seed_from_u64(4);
    assert_eq!(
        images_host(&s, &[0, 0], Binarization::Dynamic, &mut r1),
        images_host(&s, &[0, 0], Binarization::Dynamic, &mut r2)
    );
}

#[test]
fn dynamic_mean_matches_real_mnist_pixel_mean() {
    // Python (NumPy 2.4.6): mean of t10k pixels / 255 = 0.13251460584233693.
    // Bits are independent given the pixels, so the variance of their mean is
    // Σ p(1-p) / N² ≤ 0.25 / 7.84e6, SE ≤ 1.8e-4; tolerance 1e-3 (> 5 SE).
    let m = Mnist::load_dir(std::path::Path::new(BUNDLED_DIR)).unwrap();
    let idx: Vec<usize> = (0..m.test.len()).collect();
    let v = images_host(
        &m.test,
        &idx,
        Binarization::Dynamic,
        &mut HostRng::seed_from_u64(2),
    );
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    assert!((mean - 0.13251460584233693).abs() < 1e-3, "{mean}");
    let grey = images_host(
        &m.test,
        &idx,
        Binarization::None,
        &mut HostRng::seed_from_u64(2),
    );
    let gmean = grey.iter().map(|&x| x as f64).sum::<f64>() / grey.len() as f64;
    // Each x/255 is rounded to f32 (relative error ≤ 6e-8), hence 1e-7.
    assert!((gmean - 0.13251460584233693).abs() < 1e-7, "{gmean}");
}

#[test]
fn tensors_have_the_right_shapes_and_values() {
    let device = Device::flex();
    let s = synthetic(12);
    let idx = [4, 0, 11];
    let mut rng = HostRng::seed_from_u64(0);
    let host = images_host(&s, &idx, Binarization::None, &mut rng);
    let t = images_tensor(&s, &idx, Binarization::None, &mut rng, &device);
    assert_eq!(t.dims(), [3, 20]);
    assert_eq!(t.into_data().try_to_vec::<f32>().unwrap(), host);
    let t4 = images_tensor_4d(&s, &idx, Binarization::None, &mut rng, &device);
    assert_eq!(t4.dims(), [3, 1, 4, 5]);
    assert_eq!(t4.into_data().try_to_vec::<f32>().unwrap(), host);
    let l = labels_tensor(&s, &idx, &device);
    assert_eq!(l.dims(), [3]);
    assert_eq!(
        l.into_data().iter::<i64>().collect::<Vec<_>>(),
        vec![4, 0, 1]
    );
}

#[test]
fn split_validation_and_subset() {
    let s = synthetic(10);
    let (train, valid) = split_validation(&s, 3).unwrap();
    assert_eq!(train, s.subset(7));
    assert_eq!(valid.labels, vec![7, 8, 9]);
    assert_eq!(valid.image(0), s.image(7));
    assert_eq!(s.subset(100), s);
    assert_eq!(s.select(&[9, 9]).labels, vec![9, 9]);
    let err = split_validation(&s, 11).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::InvalidArgument {
                name: "n_valid",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn binarization_names_round_trip() {
    for b in [
        Binarization::None,
        Binarization::Dynamic,
        Binarization::Static { seed: 17 },
    ] {
        assert_eq!(b.to_string().parse::<Binarization>().unwrap(), b);
    }
    assert_eq!(
        "STATIC".parse::<Binarization>().unwrap(),
        Binarization::Static { seed: 0 }
    );
    let err = "bernoulli".parse::<Binarization>().unwrap_err();
    assert!(err.to_string().contains("bernoulli") && err.to_string().contains("dynamic"));
    assert!("static:x".parse::<Binarization>().is_err());
}
