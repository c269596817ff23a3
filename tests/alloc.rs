//! The wasm build's allocator (`src/heap.rs`) under load: mixed sizes, growing and shrinking
//! reallocations, over-aligned layouts, and a large buffer reused without growing memory. Every
//! block is filled with a pattern of its own and checked later, so overlapping blocks show up.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::disallowed_macros)] // tests never ship: formatting is fine here (see clippy.toml)

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::arch::wasm32::memory_size;

// Links the library, and with it its `#[global_allocator]`.
use headless_imports as _;
use wasm_bindgen_test::*;

/// xorshift32: a fixed sequence, so a failure replays.
struct Rng(u32);

impl Rng {
    fn next(&mut self, below: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        self.0 % below
    }
}

/// The byte at `i` of the block tagged `tag`.
fn pattern(tag: u32, i: usize) -> u8 {
    (tag as usize).wrapping_mul(31).wrapping_add(i) as u8
}

fn filled(tag: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| pattern(tag, i)).collect()
}

fn check(tag: u32, v: &[u8]) {
    for (i, &b) in v.iter().enumerate() {
        assert_eq!(b, pattern(tag, i), "block {tag}, byte {i} of {}", v.len());
    }
}

#[wasm_bindgen_test]
fn mixed_sizes_grow_and_shrink_and_keep_their_bytes() {
    let mut rng = Rng(0x9E37_79B9);
    let mut live: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut strings: Vec<String> = Vec::new();
    for tag in 0..20_000u32 {
        // Mostly small sizes, some up to 200 KB (past one 64 KiB page).
        let len = match rng.next(10) {
            0 => rng.next(200_000),
            1..=3 => rng.next(4_096),
            _ => rng.next(100),
        } as usize;
        match rng.next(6) {
            0 if !live.is_empty() => {
                let (t, v) = live.swap_remove(rng.next(live.len() as u32) as usize);
                check(t, &v);
            }
            1 if !live.is_empty() => {
                // Grow byte by byte through several classes: realloc in place, then by copying.
                let at = rng.next(live.len() as u32) as usize;
                let (t, v) = &mut live[at];
                check(*t, v);
                let extra = rng.next(3_000) as usize;
                for _ in 0..extra {
                    v.push(pattern(*t, v.len()));
                }
            }
            2 if !live.is_empty() => {
                // Shrink: the block keeps its start and gives its upper part back.
                let at = rng.next(live.len() as u32) as usize;
                let (t, v) = &mut live[at];
                v.truncate(v.len() / (1 + rng.next(8) as usize));
                v.shrink_to_fit();
                check(*t, v);
            }
            3 => strings.push(format!("{tag}:{}", "x".repeat(len % 300))),
            _ => live.push((tag, filled(tag, len))),
        }
        if live.len() > 400 {
            let (t, v) = live.swap_remove(0);
            check(t, &v);
        }
        if strings.len() > 300 {
            strings.drain(..150);
        }
    }
    for (t, v) in &live {
        check(*t, v);
    }
    for s in &strings {
        let (n, xs) = s.split_once(':').unwrap();
        assert!(
            n.parse::<u32>().is_ok() && xs.bytes().all(|b| b == b'x'),
            "{s}"
        );
    }
}

#[wasm_bindgen_test]
fn over_aligned_layouts_are_aligned_and_survive_realloc() {
    for align in [32, 64, 4096, 65536] {
        let mut blocks = Vec::new();
        for (n, size) in [1, align / 2, align, align + 1, 3 * align, 70_000]
            .into_iter()
            .enumerate()
        {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: `layout` has a non-zero size; the block is used within it and freed once.
            let p = unsafe { alloc(layout) };
            assert!(
                !p.is_null() && (p as usize).is_multiple_of(align),
                "align {align} size {size}: {p:?}"
            );
            // SAFETY: `p` holds `size` bytes.
            let bytes = unsafe { std::slice::from_raw_parts_mut(p, size) };
            bytes
                .iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b = pattern(n as u32, i));
            blocks.push((n as u32, p, layout));
        }
        for (tag, p, layout) in &mut blocks {
            // SAFETY: `p` holds `layout.size()` bytes written above.
            check(*tag, unsafe {
                std::slice::from_raw_parts(*p, layout.size())
            });
            for new_size in [layout.size() * 5 + 3, 7, layout.size() + 100] {
                let keep = layout.size().min(new_size);
                // SAFETY: `p` was allocated with `layout`; `new_size` is non-zero and small.
                let q = unsafe { realloc(*p, *layout, new_size) };
                assert!(
                    !q.is_null() && (q as usize).is_multiple_of(align),
                    "realloc to {new_size}"
                );
                // SAFETY: `q` holds `new_size` >= `keep` bytes, the first `keep` carried over.
                check(*tag, unsafe { std::slice::from_raw_parts(q, keep) });
                // SAFETY: as above; refill so the next step has `new_size` bytes to check.
                let bytes = unsafe { std::slice::from_raw_parts_mut(q, new_size) };
                bytes
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = pattern(*tag, i));
                *p = q;
                *layout = Layout::from_size_align(new_size, layout.align()).unwrap();
            }
        }
        for (tag, p, layout) in blocks {
            // SAFETY: `p` is live with `layout` and freed exactly once.
            unsafe {
                check(tag, std::slice::from_raw_parts(p, layout.size()));
                dealloc(p, layout);
            }
        }
    }
}

#[wasm_bindgen_test]
fn alignment_above_a_page_is_refused_not_faked() {
    // Large blocks are whole pages at 64 KiB-aligned addresses; a stricter alignment is refused
    // with null (GlobalAlloc's answer for an unmet alignment). This also proves the library's
    // allocator is the one installed: dlmalloc would serve it.
    let layout = Layout::from_size_align(100, 1 << 17).unwrap();
    // SAFETY: a non-zero-size layout; nothing to free when null.
    let p = unsafe { alloc(layout) };
    assert!(p.is_null());
}

#[wasm_bindgen_test]
fn a_shrunk_block_gives_its_tail_back_without_overlap() {
    let mut big = filled(1, 1 << 20);
    let start = big.as_ptr() as usize;
    big.truncate(100);
    big.shrink_to_fit();
    assert_eq!(big.as_ptr() as usize, start, "shrinking keeps the block");
    // The freed tail is one block per class, [2^k, 2^(k+1)) for k from 7 (128 B) to 19 (512 KiB),
    // each now first on its free list: the next block of each of those sizes is that piece.
    let sized: Vec<Vec<u8>> = (16..20u32).rev().map(|k| filled(k, 1 << k)).collect();
    for (k, v) in (16..20u32).rev().zip(&sized) {
        assert_eq!(
            v.as_ptr() as usize,
            start + (1 << k),
            "the {k} class block is the tail's"
        );
    }
    // Smaller ones come from the tail (or elsewhere); either way they must not touch `big`.
    let others: Vec<Vec<u8>> = (2..200).map(|t| filled(t, 64 + t as usize * 37)).collect();
    check(1, &big);
    for (k, v) in (16..20u32).rev().zip(&sized) {
        check(k, v);
    }
    for (t, v) in (2..).zip(&others) {
        check(t, v);
    }
}

#[wasm_bindgen_test]
fn a_reused_large_buffer_does_not_grow_memory() {
    // Warm up, so the first growth is not counted.
    drop(vec![0u8; 1 << 20]);
    let before = memory_size(0);
    for i in 0..1000u32 {
        let mut buf = vec![0u8; 1 << 20];
        buf[i as usize * 1000] = i as u8;
        assert_eq!(buf[1 << 19], 0, "reused memory came back zeroed");
        drop(buf);
        let mut v: Vec<u8> = Vec::with_capacity(1 << 20);
        v.extend_from_slice(&[i as u8; 4096]);
    }
    let grown = memory_size(0) - before;
    assert!(grown <= 2, "memory grew by {grown} pages of 64 KiB");
}
