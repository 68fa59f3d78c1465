//! The `SyncScheduler` binding in a real browser: options and events reach the core's
//! scheduler unchanged, and `poll` answers in the shape the glue reads.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;
use wasm_client::SyncScheduler;

wasm_bindgen_test_configure!(run_in_browser);

fn options(pairs: &[(&str, f64)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&o, &(*k).into(), &JsValue::from_f64(*v)).expect("set");
    }
    o.into()
}

fn field(v: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(v, &k.into()).expect("object")
}

#[wasm_bindgen_test]
fn the_first_sync_is_due_at_once_and_a_running_one_says_so() {
    let mut s = SyncScheduler::new(JsValue::UNDEFINED, 1000.0);
    assert_eq!(field(&s.poll(1000.0), "sync"), JsValue::TRUE);
    s.started(1000.0);
    assert_eq!(field(&s.poll(1001.0), "running"), JsValue::TRUE);
    s.finished_ok(1200.0);
    // The core's default interval (60 s) after the success.
    assert_eq!(field(&s.poll(1300.0), "waitUntil").as_f64(), Some(61_200.0));
}

#[wasm_bindgen_test]
fn saves_are_debounced_and_kept_apart_by_the_given_gap() {
    let mut s = SyncScheduler::new(options(&[("debounceMs", 200.0), ("minGapMs", 3000.0)]), 0.0);
    s.started(0.0);
    s.finished_ok(100.0);
    s.saved(500.0);
    assert_eq!(
        field(&s.poll(600.0), "waitUntil").as_f64(),
        Some(3000.0),
        "the gap after the start at 0"
    );
    s.saved(2500.0);
    assert_eq!(
        field(&s.poll(2600.0), "waitUntil").as_f64(),
        Some(3000.0),
        "a burst does not push it later"
    );
    assert_eq!(field(&s.poll(3000.0), "sync"), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn a_wait_is_never_shorter_in_real_time_than_the_core_computed() {
    let mut s = SyncScheduler::new(JsValue::UNDEFINED, 0.0);
    s.started(1000.4);
    s.finished_ok(1200.0);
    s.saved(1300.0);
    // 5 s after a start at 1000.4 ms is 6000.4 ms, not 6000 ms.
    assert_eq!(field(&s.poll(6000.2), "waitUntil").as_f64(), Some(6001.0));
    assert_eq!(field(&s.poll(6001.0), "sync"), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn infinity_turns_the_periodic_sync_off() {
    let mut s = SyncScheduler::new(options(&[("intervalMs", f64::INFINITY)]), 0.0);
    s.started(0.0);
    s.finished_ok(10.0);
    let until = field(&s.poll(20.0), "waitUntil").as_f64().expect("waits");
    assert!(until > 1e15, "never: {until}");
    s.requested(30.0);
    assert_eq!(field(&s.poll(30.0), "sync"), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn a_transient_failure_waits_at_least_the_servers_retry_after() {
    let mut s = SyncScheduler::new(JsValue::UNDEFINED, 0.0);
    s.started(0.0);
    s.finished_failed(100.0, true, Some(7.0));
    assert_eq!(s.failures(), 1);
    assert_eq!(field(&s.poll(200.0), "waitUntil").as_f64(), Some(7_100.0));
    s.started(7_100.0);
    s.finished_failed(7_200.0, false, None);
    assert_eq!(
        field(&s.poll(7_300.0), "waitUntil").as_f64(),
        Some(67_200.0),
        "a refusal waits the interval"
    );
}
