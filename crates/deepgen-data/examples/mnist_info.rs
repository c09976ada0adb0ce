//! Finds and loads MNIST, then prints where it came from, its sizes, label
//! histograms and the load time.
//!
//! `cargo run --release -p deepgen-data --example mnist_info -- [--data DIR]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use deepgen_data::Mnist;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let data = match args.as_slice() {
        [] => None,
        [flag, dir] if flag == "--data" => Some(PathBuf::from(dir)),
        _ => {
            eprintln!("usage: mnist_info [--data DIR]");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let mnist = match Mnist::load(data.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = start.elapsed();
    println!("source: {}", mnist.source.display());
    println!("loaded in {:.3} s", elapsed.as_secs_f64());
    for (name, s) in [("train", &mnist.train), ("test", &mnist.test)] {
        println!(
            "{name}: {} images of {}x{}, labels {:?}",
            s.len(),
            s.rows,
            s.cols,
            s.label_histogram()
        );
    }
    ExitCode::SUCCESS
}
