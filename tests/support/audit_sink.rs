//! An audit sink the test can make fail.

use std::sync::atomic::{AtomicBool, Ordering};

use otpguard::lifecycle::audit::{AuditLog, AuditRecord, AuditSink};
use otpguard::StoreError;

/// An `AuditLog` that refuses every write while `failing` is set.
#[derive(Default)]
pub struct SwitchSink {
    pub failing: AtomicBool,
    pub log: AuditLog,
}

impl AuditSink for SwitchSink {
    fn write(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::new("audit log unavailable"));
        }
        self.log.write(records)
    }
}
