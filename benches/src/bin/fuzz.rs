//! `fuzz <target|all> [executions] [seed]`: runs the seeded mutation fuzzer (`onshi_benches::fuzz`) and prints
//! executions, panics and the rate; a panicking input is written to `fuzz-crash-<target>.bin` for replay.

use std::time::Instant;

use onshi_benches::fuzz::{run, Target};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let targets: Vec<Target> = match args.first().map(String::as_str) {
        None | Some("all") => Target::ALL.to_vec(),
        Some(name) => match Target::parse(name) {
            Some(t) => vec![t],
            None => {
                eprintln!(
                    "unknown target {name:?}: file_name, xml, json, uke, bulk, cda, zip or all"
                );
                std::process::exit(2);
            }
        },
    };
    let executions: u64 = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(20261201);
    std::panic::set_hook(Box::new(|_| {}));
    let mut failed = false;
    for t in targets {
        let started = Instant::now();
        let r = run(t, executions, seed);
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{:<10} {:>10} executions  {:>9} accepted whole  {:>3} panics  {:>7.1} s  {:>9.0} exec/s",
            t.name(),
            r.executions,
            r.accepted,
            r.panics,
            secs,
            r.executions as f64 / secs
        );
        if let Some(input) = r.first_panic {
            failed = true;
            let file = format!("fuzz-crash-{}.bin", t.name());
            if std::fs::write(&file, input).is_ok() {
                println!("           first panicking input: {file}");
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
