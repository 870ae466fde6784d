//! Which clock the single-threaded benches read.
//!
//! By default the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`):
//! on a machine shared with other work it does not count the time the thread
//! spent waiting for a core, so the figures, and above all their ratios, do
//! not move with the neighbours' load. On an idle machine it equals wall
//! time. `OTPGUARD_BENCH_CLOCK=wall` switches to criterion's wall clock.

use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput};

/// CPU time of the calling thread.
pub struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }
    fn end(&self, start: ThreadTime) -> Duration {
        start.elapsed()
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

/// Shows nanoseconds the way criterion shows wall time.
struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = match typical {
            t if t < 1e3 => (1.0, "ns"),
            t if t < 1e6 => (1e-3, "µs"),
            t if t < 1e9 => (1e-6, "ms"),
            _ => (1e-9, "s"),
        };
        for v in values {
            *v *= factor;
        }
        unit
    }

    fn scale_throughputs(
        &self,
        _: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iteration = match *throughput {
            Throughput::Bytes(n)
            | Throughput::BytesDecimal(n)
            | Throughput::Bits(n)
            | Throughput::Elements(n) => n as f64,
        };
        for v in values {
            *v = per_iteration * 1e9 / *v;
        }
        "units/s (CPU)"
    }

    fn scale_for_machines(&self, _: &mut [f64]) -> &'static str {
        "ns"
    }
}

/// Runs `cpu` with the thread CPU clock, or `wall` with the wall clock if
/// `OTPGUARD_BENCH_CLOCK=wall`; then prints criterion's summary.
pub fn main(cpu: fn(&mut Criterion<ThreadCpuTime>), wall: fn(&mut Criterion<WallTime>)) {
    if std::env::var("OTPGUARD_BENCH_CLOCK").is_ok_and(|v| v == "wall") {
        let mut c = Criterion::default().configure_from_args();
        wall(&mut c);
        c.final_summary();
    } else {
        let mut c = Criterion::default()
            .with_measurement(ThreadCpuTime)
            .configure_from_args();
        cpu(&mut c);
        c.final_summary();
    }
}
