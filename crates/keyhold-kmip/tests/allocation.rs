//! Memory use of the decoder on hostile input, measured with a counting
//! allocator. One test function, so no other test runs concurrently in this
//! binary and the peak belongs to the decoder alone.

// A `GlobalAlloc` implementation is unsafe by definition; this one only
// forwards to the system allocator and counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use keyhold_kmip::{decode, Limits, TtlvError};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counters are
// plain atomics and never affect the returned memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Count the moment both blocks exist, as a copying realloc does.
        let now = CURRENT.fetch_add(new_size, Ordering::Relaxed) + new_size;
        PEAK.fetch_max(now, Ordering::Relaxed);
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns (peak bytes above the level at the start, largest
/// single allocation) during it.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    LARGEST.store(0, Ordering::Relaxed);
    let out = f();
    (
        out,
        PEAK.load(Ordering::Relaxed) - base,
        LARGEST.load(Ordering::Relaxed),
    )
}

fn header(ty: u8, len: u32) -> Vec<u8> {
    let mut out = vec![0x42, 0x00, 0x20, ty];
    out.extend_from_slice(&len.to_be_bytes());
    out
}

const MIB: usize = 1 << 20;

#[test]
fn hostile_inputs_are_refused_in_bounded_memory() {
    // 1. A header announcing 4 GiB of text: nothing close is allocated.
    let mut bytes = header(0x07, 0xFFFF_FFF0);
    bytes.extend_from_slice(&[0x41; 64]);
    let (result, peak, largest) = measure(|| decode(&bytes, &Limits::default()));
    assert_eq!(result, Err(TtlvError::Truncated));
    assert!(
        peak < 4096 && largest < 4096,
        "peak {peak}, largest {largest}"
    );

    // 2. A million tiny items, with the size limit lifted so that only the
    //    item limit stops them: memory stays proportional to the 100 000
    //    items decoded, not to the million announced.
    let count = 1_000_000usize;
    let mut bytes = header(0x01, (count * 16) as u32);
    for i in 0..count {
        bytes.extend(header(0x02, 4));
        bytes.extend_from_slice(&(i as u32).to_be_bytes());
        bytes.extend_from_slice(&[0; 4]);
    }
    let limits = Limits {
        max_message: 64 * MIB,
        ..Limits::default()
    };
    let (result, peak, _) = measure(|| decode(&bytes, &limits));
    assert_eq!(result, Err(TtlvError::TooManyItems { max: 100_000 }));
    assert!(peak < 16 * MIB, "peak {peak} bytes");

    // 3. A full-size 1 MiB message of one byte string: one copy of the value.
    let mut bytes = header(0x08, (MIB - 8) as u32);
    bytes.resize(MIB, 0xAB);
    let (result, peak, _) = measure(|| decode(&bytes, &Limits::default()));
    assert!(result.is_ok());
    drop(result);
    assert!(peak < 2 * MIB, "peak {peak} bytes");
}
