//! `CommonArgs` through a real clap parser: out-of-range flags are rejected with the flag
//! named, valid ones reach the `Trainer`.

use clap::Parser;
use deepgen_train::{CommonArgs, Schedule, Trainer};

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    common: CommonArgs,
}

fn parse(args: &[&str]) -> Result<CommonArgs, String> {
    Cli::try_parse_from(std::iter::once("example").chain(args.iter().copied()))
        .map(|c| c.common)
        .map_err(|e| e.to_string())
}

#[test]
fn out_of_range_flags_are_rejected_by_clap() {
    let cases: [(&[&str], &str, &str); 8] = [
        (&["--epochs", "0"], "--epochs", "at least 1"),
        (&["--batch-size", "0"], "--batch-size", "at least 1"),
        (&["--epochs=-3"], "--epochs", "not a whole number"),
        (&["--ema", "1"], "--ema", "(0, 1)"),
        (&["--ema", "0"], "--ema", "(0, 1)"),
        (&["--ema", "nan"], "--ema", "(0, 1)"),
        (&["--clip-grad-norm", "0"], "--clip-grad-norm", "> 0"),
        (&["--clip-grad-value=-1e-3"], "--clip-grad-value", "> 0"),
    ];
    for (args, flag, reason) in cases {
        let err = parse(args).expect_err(&format!("{args:?} should be rejected"));
        assert!(
            err.contains(flag) && err.contains(reason),
            "{args:?}: `{err}` should name {flag} and say {reason}"
        );
    }
    let err = parse(&["--lr", "cyclical:0:1:0:0.5"]).unwrap_err();
    assert!(err.contains("Schedule.period"), "{err}");
}

#[test]
fn valid_flags_reach_the_trainer() {
    let args = parse(&[
        "--epochs",
        "3",
        "--batch-size",
        "1",
        "--ema",
        "0.999",
        "--clip-grad-norm",
        "1.5",
        "--clip-grad-value",
        "0.5",
        "--lr",
        "cosine:1e-3:1e-5:10:100",
        "--seed",
        "7",
    ])
    .unwrap();
    assert_eq!(
        (args.epochs, args.batch_size, args.ema),
        (Some(3), Some(1), Some(0.999))
    );
    let t = Trainer::new("runs/x").with_args(&args).unwrap();
    assert_eq!(t.num_epochs(), 3);
    assert_eq!(
        args.lr,
        Some(Schedule::Cosine {
            base: 1e-3,
            min: 1e-5,
            warmup_steps: 10,
            total_steps: 100
        })
    );
    // Flags left unset keep the example's defaults.
    let none = parse(&[]).unwrap();
    assert_eq!(
        (none.epochs, none.ema, none.clip_grad_norm),
        (None, None, None)
    );
    assert_eq!(
        Trainer::new("runs/x")
            .with_args(&none)
            .unwrap()
            .num_epochs(),
        10
    );
}
