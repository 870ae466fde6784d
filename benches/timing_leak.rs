//! A dudect-style timing-leak measurement of [`Totp::verify`],
//! [`Totp::verify_pair`] and [`Ocra::verify`].
//!
//! Five comparisons, each between two classes of submitted code:
//!
//! - `offset_-1_vs_+1`: the code of the step before, against the code of the
//!   step after (both match, at different places in the window);
//! - `near_miss_vs_wrong`: the right code with its last digit changed,
//!   against random well-formed codes that match no step (an early-exit
//!   comparison, as in CVE-2022-29185, would tell these apart);
//! - `correct_vs_wrong`: the right code for the current step, against random
//!   wrong codes;
//! - `resync_edge_-100_vs_+100`: [`Totp::verify_pair`] over ±100 steps, a
//!   pair matched at one edge of the wide window against a pair matched at
//!   the other (a scan that stopped at the first match would tell them
//!   apart by 200 steps of work);
//! - `ocra_t1m_edge_-1_vs_+1`: [`Ocra::verify`] for the suite
//!   `OCRA-1:HOTP-SHA1-6:QN08-T1M` over ±1 time step, a response matching
//!   at the window's -1 edge against one matching at its +1 edge.
//!
//! All but `correct_vs_wrong` are judged. The third is measured and reported but not
//! judged: after every candidate has been compared in constant time,
//! `verify` returns `Ok(Match)` or `Err(Mismatch)`, and building one or the
//! other differs by about one CPU cycle, which a million samples resolve.
//! That difference reveals only the outcome, which the verifier reports to
//! the caller anyway.
//!
//! Samples of the two classes are interleaved in a random order, each call is
//! timed on its own, and Welch's t-test compares the two timing distributions:
//! on all samples and after cropping the slowest ones at several percentiles
//! of the pooled distribution (scheduler noise only ever adds time). A |t| of
//! 4.5 or more in a judged comparison is evidence of a leak (dudect's
//! threshold) and makes the run exit with a failure status.
//!
//! ```text
//! cargo bench --bench timing_leak                      # 1,000,000 samples per class
//! cargo bench --bench timing_leak -- --samples 5000000
//! cargo bench --bench timing_leak -- --test            # a quick run that only checks it works
//! ```
//!
//! Run it on a quiet machine: noise cannot fake a leak (the classes are
//! interleaved at random), but it hides small ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)]

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use otpguard::ocra::{self, Input, Ocra, Suite, VerifyWindow};
use otpguard::{Algorithm, CheckError, Match, PairError, Secret, Totp, Window};

/// dudect's threshold for "definitely not constant time".
const THRESHOLD: f64 = 4.5;
/// Samples per class in a real run.
const DEFAULT_SAMPLES: usize = 1_000_000;
/// Samples per class in `--test` mode: enough to exercise the code, far too
/// few to mean anything.
const TEST_SAMPLES: usize = 2_000;
/// Each class draws its inputs from this many strings (all the same for the
/// classes of fixed codes, all different for the random wrong codes).
const POOL: usize = 4_096;
/// The resynchronisation radius of the pair comparison.
const RESYNC: i64 = 100;
/// The OCRA suite of the OCRA comparison, and its challenge question.
const OCRA_SUITE: &str = "OCRA-1:HOTP-SHA1-6:QN08-T1M";
const OCRA_QUESTION: &str = "12345678";
/// The prefix that marks an OCRA response in a pool (see [`check`]).
const OCRA_PREFIX: &str = "ocra=";
/// Pooled percentiles at which slow samples are cropped (plus no crop).
const CROPS: [f64; 4] = [0.50, 0.90, 0.99, 0.999];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let test_mode = args.iter().any(|a| a == "--test");
    let samples = match args.iter().position(|a| a == "--samples") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .expect("--samples takes a number"),
        None if test_mode => TEST_SAMPLES,
        None => DEFAULT_SAMPLES,
    };

    let secret = Secret::generate(Algorithm::Sha1).expect("OS randomness");
    let totp = Totp::builder(&secret).build().expect("default parameters");
    let window = Window::default();
    // Some time whose step and both neighbours have three different codes,
    // so the offset classes really match at different places.
    let (time, codes) = (1_700_000_000u64..)
        .step_by(30)
        .map(|t| {
            let step = totp.step_at(t).expect("after T0");
            let code = |s: u64| totp.generate_step(s).to_string();
            (t, [code(step - 1), code(step), code(step + 1)])
        })
        .find(|(_, [a, b, c])| a != b && b != c && a != c)
        .expect("distinct neighbouring codes");
    let [before, now, after] = &codes;

    // OCRA over ±1 time step, at a time whose step and both neighbours
    // have three different responses, encoded as "ocra=<response>".
    let ocra = OcraCheck::new(&secret);
    let ocra_at = |rel: i64| {
        let step = (ocra.time / 60).checked_add_signed(rel).expect("in range");
        let response = ocra
            .ocra
            .generate(&Input::new(OCRA_QUESTION).time_step(step))
            .expect("fits the suite");
        format!("{OCRA_PREFIX}{response}")
    };

    let copies = |code: &str| -> Vec<String> { (0..POOL).map(|_| code.to_owned()).collect() };
    let wrong: Vec<String> = random_u32s(POOL * 2)
        .into_iter()
        .map(|r| format!("{:06}", r % 1_000_000))
        .filter(|c| !codes.contains(c))
        .take(POOL)
        .collect();

    // The right code with its last digit changed: what an early-exit
    // comparison (CVE-2022-29185) would answer more slowly than a random guess.
    let near_miss = {
        let mut c = now.clone().into_bytes();
        let last = c.last_mut().expect("six digits");
        *last = b'0' + (*last - b'0' + 1) % 10;
        String::from_utf8(c).expect("ASCII digits")
    };
    assert!(!codes.contains(&near_miss));

    // Pairs at the two edges of a ±100 resynchronisation window, as
    // "first:second".
    let pair_at = |rel: i64| {
        let step = totp.step_at(time).expect("after T0");
        let later = step.checked_add_signed(rel).expect("in range");
        format!(
            "{}:{}",
            totp.generate_step(later - 1),
            totp.generate_step(later)
        )
    };

    let comparisons = [
        Comparison {
            name: "offset_-1_vs_+1",
            pools: [copies(before), copies(after)],
            offsets: [Some(-1), Some(1)],
            judged: true,
        },
        Comparison {
            name: "resync_edge_-100_vs_+100",
            pools: [copies(&pair_at(-RESYNC)), copies(&pair_at(RESYNC))],
            offsets: [Some(-RESYNC), Some(RESYNC)],
            judged: true,
        },
        Comparison {
            name: "ocra_t1m_edge_-1_vs_+1",
            pools: [copies(&ocra_at(-1)), copies(&ocra_at(1))],
            offsets: [Some(-1), Some(1)],
            judged: true,
        },
        Comparison {
            name: "near_miss_vs_wrong",
            pools: [copies(&near_miss), wrong.clone()],
            offsets: [None, None],
            judged: true,
        },
        Comparison {
            name: "correct_vs_wrong",
            pools: [copies(now), wrong],
            offsets: [Some(0), None],
            judged: false,
        },
    ];

    println!("timing_leak: Totp::verify, window 1 behind / 1 ahead; Ocra::verify, {OCRA_SUITE} ±1; {samples} samples per class");
    let mut worst = 0.0f64;
    for Comparison {
        name,
        pools,
        offsets,
        judged,
    } in &comparisons
    {
        // Sanity: the classes are what they claim to be.
        for (pool, want) in pools.iter().zip(offsets) {
            let got = check(&totp, &ocra, &pool[0], time, window).offset();
            assert_eq!(got, *want, "{name}");
        }
        let timings = measure(&totp, &ocra, time, window, pools, samples);
        let ts = t_statistics(&timings);
        let max = ts.iter().map(|(_, w)| w.t.abs()).fold(0.0, f64::max);
        if *judged {
            worst = worst.max(max);
        }
        let detail: Vec<String> = ts
            .iter()
            .map(|(label, w)| format!("{label}: t = {:+.2} ({:+.2} ns)", w.t, w.diff_ns))
            .collect();
        let means = class_means(&timings);
        println!(
            "  {name}: max |t| = {max:.2} ({}); mean {:.1} ns vs {:.1} ns{}",
            detail.join(", "),
            means[0],
            means[1],
            if *judged {
                ""
            } else {
                " [outcome: reported, not judged]"
            }
        );
    }

    if test_mode {
        println!("timing_leak: test mode, too few samples to judge; run without --test to measure");
        ExitCode::SUCCESS
    } else if worst < THRESHOLD {
        println!("timing_leak: no leak detected (max |t| = {worst:.2} < {THRESHOLD})");
        ExitCode::SUCCESS
    } else {
        println!("timing_leak: possible leak (max |t| = {worst:.2} >= {THRESHOLD})");
        ExitCode::FAILURE
    }
}

/// Two classes of submitted code to tell apart by timing.
struct Comparison {
    name: &'static str,
    /// The codes each class draws from.
    pools: [Vec<String>; 2],
    /// What `verify` must answer for each class: the offset of the match,
    /// or `None` for no match.
    offsets: [Option<i64>; 2],
    /// Whether a large |t| fails the run (see the file's documentation).
    judged: bool,
}

/// The OCRA side: a time-step suite keyed with the run's secret, the
/// verifier's time (chosen so the three steps of the window have three
/// different responses) and the ±1 window.
struct OcraCheck {
    ocra: Ocra,
    time: u64,
    window: VerifyWindow,
}

impl OcraCheck {
    fn new(secret: &Secret) -> Self {
        let ocra = Ocra::new(secret, Suite::parse(OCRA_SUITE).expect("a valid suite"));
        let response = |step: u64| {
            ocra.generate(&Input::new(OCRA_QUESTION).time_step(step))
                .expect("fits the suite")
                .to_string()
        };
        let time = (1_700_000_000u64..)
            .step_by(60)
            .find(|t| {
                let step = t / 60;
                let [a, b, c] = [response(step - 1), response(step), response(step + 1)];
                a != b && b != c && a != c
            })
            .expect("distinct neighbouring responses");
        Self {
            ocra,
            time,
            window: VerifyWindow::time(Window::new(1, 1).expect("a small window")),
        }
    }
}

/// What one check answered.
enum Outcome {
    Totp(Result<Match, CheckError>),
    Pair(Result<Match, PairError>),
    Ocra(Result<ocra::ResponseMatch, ocra::ResponseError>),
}

impl Outcome {
    /// The offset of the match, or `None` for no match.
    fn offset(&self) -> Option<i64> {
        match self {
            Self::Totp(r) => r.as_ref().ok().map(Match::offset),
            Self::Pair(r) => r.as_ref().ok().map(Match::offset),
            Self::Ocra(r) => r.as_ref().ok().and_then(ocra::ResponseMatch::time_offset),
        }
    }
}

/// One check: `verify` for a code, `verify_pair` over ±[`RESYNC`] for a
/// "first:second" pair, [`Ocra::verify`] over ±1 step for
/// "ocra=<response>".
fn check(totp: &Totp, ocra: &OcraCheck, input: &str, time: u64, window: Window) -> Outcome {
    if let Some(response) = input.strip_prefix(OCRA_PREFIX) {
        let question = Input::new(OCRA_QUESTION).time(ocra.time);
        return Outcome::Ocra(ocra.ocra.verify(response, &question, ocra.window));
    }
    match input.split_once(':') {
        Some((first, second)) => {
            Outcome::Pair(totp.verify_pair(first, second, time, RESYNC as u32))
        }
        None => Outcome::Totp(totp.verify(input, time, window)),
    }
}

/// Times `samples` verifications of each class, in a random interleaved
/// order. Returns (class, nanoseconds) per call.
fn measure(
    totp: &Totp,
    ocra: &OcraCheck,
    time: u64,
    window: Window,
    pools: &[Vec<String>; 2],
    samples: usize,
) -> Vec<(usize, u64)> {
    // Exactly `samples` of each class, shuffled (Fisher-Yates).
    let mut order: Vec<usize> = (0..2 * samples).map(|i| i % 2).collect();
    let picks = random_u32s(order.len() * 2);
    for i in (1..order.len()).rev() {
        let j = picks[i] as usize % (i + 1);
        order.swap(i, j);
    }

    let warm_up = (samples / 10).clamp(100, 10_000);
    for i in 0..warm_up {
        black_box(check(totp, ocra, &pools[i % 2][i % POOL], time, window));
    }

    // Every input is copied into the same buffer before the clock starts, so
    // both classes are read from the same address: a difference in where the
    // two classes' strings happen to live in memory cannot show up as a
    // difference in time.
    let mut buf = vec![b'0'; pools[0][0].len()];
    let mut timings = Vec::with_capacity(order.len());
    for (i, &class) in order.iter().enumerate() {
        let code = &pools[class][picks[order.len() + i] as usize % POOL];
        buf.copy_from_slice(code.as_bytes());
        let input = std::str::from_utf8(&buf).expect("ASCII digits");
        let start = Instant::now();
        let result = check(
            totp,
            ocra,
            black_box(input),
            black_box(time),
            black_box(window),
        );
        let elapsed = start.elapsed();
        // Dropped after the clock stopped (neither outcome has drop glue).
        black_box(&result);
        timings.push((class, elapsed.as_nanos() as u64));
    }
    timings
}

/// Welch's t (and the difference of the class means, in nanoseconds) over
/// all samples, then over the samples below each cropping percentile of the
/// pooled distribution.
fn t_statistics(timings: &[(usize, u64)]) -> Vec<(String, Welch)> {
    let mut sorted: Vec<u64> = timings.iter().map(|&(_, ns)| ns).collect();
    sorted.sort_unstable();
    let mut out = vec![("all".to_owned(), welch(timings, u64::MAX))];
    for p in CROPS {
        let cut = sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)];
        out.push((format!("<p{}", p * 100.0), welch(timings, cut)));
    }
    out
}

/// Welch's t-statistic between class 0 and class 1, and the difference of
/// their means.
#[derive(Clone, Copy)]
struct Welch {
    t: f64,
    diff_ns: f64,
}

/// Welch's t-test between class 0 and class 1, over samples `<= cut`.
fn welch(timings: &[(usize, u64)], cut: u64) -> Welch {
    // Welford's online mean and variance per class.
    let mut n = [0.0f64; 2];
    let mut mean = [0.0f64; 2];
    let mut m2 = [0.0f64; 2];
    for &(class, ns) in timings.iter().filter(|&&(_, ns)| ns <= cut) {
        let x = ns as f64;
        n[class] += 1.0;
        let delta = x - mean[class];
        mean[class] += delta / n[class];
        m2[class] += delta * (x - mean[class]);
    }
    let diff_ns = mean[0] - mean[1];
    if n[0] < 2.0 || n[1] < 2.0 {
        return Welch { t: 0.0, diff_ns };
    }
    let var = [m2[0] / (n[0] - 1.0), m2[1] / (n[1] - 1.0)];
    let se = (var[0] / n[0] + var[1] / n[1]).sqrt();
    let t = if se == 0.0 { 0.0 } else { diff_ns / se };
    Welch { t, diff_ns }
}

fn class_means(timings: &[(usize, u64)]) -> [f64; 2] {
    let mut sum = [0.0f64; 2];
    let mut n = [0.0f64; 2];
    for &(class, ns) in timings {
        sum[class] += ns as f64;
        n[class] += 1.0;
    }
    [sum[0] / n[0], sum[1] / n[1]]
}

fn random_u32s(count: usize) -> Vec<u32> {
    let mut bytes = vec![0u8; count * 4];
    getrandom::fill(&mut bytes).expect("OS randomness");
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
