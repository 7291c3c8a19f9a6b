//! Traffic that makes the two documented alerts fire: errors and slow
//! requests, from threads that stop with the test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::Scope;
use std::time::Duration;

use crate::Service;

/// Sets the flag when dropped, so that traffic threads stop when the test
/// fails too (a scope waits for its threads before the panic goes on).
pub struct StopOnDrop<'a>(pub &'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// On threads of `scope`, until `stop` is set: half the answers 500s, and
/// two clients keep a fifth of the requests on `/slow` (above the 0.5 s of
/// HighRequestLatency when the service's `SLOW_MS` is).
pub fn errors_and_slow_requests<'scope>(
    scope: &'scope Scope<'scope, '_>,
    service: &'scope Service,
    stop: &'scope AtomicBool,
) {
    scope.spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            assert_eq!(service.request("GET", "/users", None).0, 200);
            assert_eq!(service.request("GET", "/fail", None).0, 500);
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    for _ in 0..2 {
        scope.spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                assert_eq!(service.request("GET", "/slow", None).0, 200);
            }
        });
    }
}
