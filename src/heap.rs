//! The wasm build's global allocator: power-of-two size classes, one free list per class, memory
//! from `memory.grow`. It replaces Rust's default (dlmalloc), whose code is about 8 KB of raw wasm;
//! this one is a few hundred bytes.
//!
//! - A block of class `k` is `2^k` bytes (16 B to 2 GiB) and carries no header: `dealloc` and
//!   `realloc` get the block's layout back, and the class is a function of the layout.
//! - Classes below one wasm page (64 KiB) are cut from a page by halving: a missing block of class
//!   `k` is the lower half of a class `k + 1` block whose upper half goes on list `k`. Pages are
//!   64 KiB-aligned, so every small block is aligned to its own size, hence to any `align` up to
//!   that size (the class is at least `align`).
//! - Classes of a page or more are whole pages straight from `memory.grow`: a 1 MiB buffer freed
//!   and allocated again reuses its block instead of growing memory. They are page-aligned, so
//!   `align` above 64 KiB is refused (null, which `GlobalAlloc` allows for unmet alignment).
//! - Blocks never merge and memory is never returned (wasm memory cannot shrink; dlmalloc does not
//!   return it either). The cost is fragmentation across classes, which this library's allocation
//!   pattern (small request-scoped values plus one reused chunk buffer) does not run into.

#![deny(unsafe_op_in_unsafe_fn)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::UnsafeCell;
use core::ptr;

/// 16 B, the smallest class: room for the free-list link, and the alignment of every block.
const MIN_CLASS: u32 = 4;
/// 64 KiB, one wasm page: from this class up, blocks are whole pages.
const PAGE_CLASS: u32 = 16;

/// Free-list heads by class (0 = empty: blocks come from pages grown past the initial memory, so
/// none is at address 0). A free block's first word holds the address of the next one.
struct Allocator(UnsafeCell<[usize; 32]>);

// SAFETY: this allocator is installed only on wasm32 without the `atomics` target feature, where
// there is exactly one thread and no shared memory (wasm32-unknown-unknown's default). The lists
// are touched only inside `alloc`/`dealloc`/`realloc`, which call nothing that could re-enter the
// allocator (wasm has no signals or interrupts), so no two accesses ever overlap.
unsafe impl Sync for Allocator {}

#[global_allocator]
static ALLOCATOR: Allocator = Allocator(UnsafeCell::new([0; 32]));

/// The class of blocks serving `layout`, or `None` for alignments above a page.
fn class(layout: Layout) -> Option<u32> {
    if layout.align() > 1 << PAGE_CLASS {
        return None;
    }
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    // `size` <= isize::MAX (Layout's limit, with `align` <= 64 KiB), so the class is at most 31.
    Some(usize::BITS - (size - 1).leading_zeros())
}

impl Allocator {
    /// Puts `block`, a free `2^k`-byte block aligned as class `k` requires, on list `k`.
    ///
    /// # Safety
    /// `block` is such a block, owned by no one else.
    unsafe fn push(&self, k: u32, block: *mut u8) {
        // SAFETY: no other reference to the lists is live (see `Sync` above), and the block is
        // ours, at least 16 bytes and 16-aligned, so its first word is ours to write.
        unsafe {
            let head = &mut (*self.0.get())[k as usize];
            block.cast::<usize>().write(*head);
            *head = block as usize;
        }
    }

    /// A `2^k`-byte block, or null when memory is exhausted.
    ///
    /// # Safety
    /// Called only from the `GlobalAlloc` methods (see `Sync` above).
    unsafe fn take(&self, k: u32) -> *mut u8 {
        // SAFETY: no other reference to the lists is live (see `Sync` above); a listed block is
        // free and its first word is the next link (`push`).
        unsafe {
            let head = &mut (*self.0.get())[k as usize];
            if *head != 0 {
                let block = *head as *mut u8;
                *head = block.cast::<usize>().read();
                return block;
            }
        }
        if k >= PAGE_CLASS {
            return match wasm32::memory_grow(0, 1 << (k - PAGE_CLASS)) {
                usize::MAX => ptr::null_mut(), // refused: out of memory
                // The new pages start where memory used to end (old_pages < 65536: no overflow).
                old_pages => (old_pages << PAGE_CLASS) as *mut u8,
            };
        }
        // SAFETY: as for this call (the list reference above is gone).
        let block = unsafe { self.take(k + 1) };
        if !block.is_null() {
            // SAFETY: the upper half of a fresh class `k + 1` block is free and `2^k`-aligned.
            unsafe { self.push(k, block.add(1 << k)) };
        }
        block
    }
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class(layout) {
            // SAFETY: called from `alloc`.
            Some(k) => unsafe { self.take(k) },
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // A layout we allocated with has a class, and `ptr` is a block of it (`realloc` keeps the
        // class of a block equal to the class of the layout it was last given).
        if let Some(k) = class(layout) {
            // SAFETY: `ptr` was allocated with `layout` and the caller gives it up.
            unsafe { self.push(k, ptr) };
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size` rounded up to `layout.align()` fits a Layout.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let (Some(old_k), Some(new_k)) = (class(layout), class(new)) else {
            return ptr::null_mut();
        };
        if new_k <= old_k {
            // Fits: keep the block, and free its unused upper part as one block per class
            // (`[2^new_k, 2^(new_k+1))`, ...). The block starts on a boundary of its size or of a
            // page, so each piece is as aligned as its class requires.
            for k in new_k..old_k {
                // SAFETY: that range lies inside the block, past the bytes still in use.
                unsafe { self.push(k, ptr.add(1 << k)) };
            }
            return ptr;
        }
        // SAFETY: `new` is valid (above) and not zero-sized: its class is larger than another's.
        let grown = unsafe { self.alloc(new) };
        if !grown.is_null() {
            // SAFETY: two distinct live blocks, the new one larger than the `layout.size()` bytes
            // copied; the caller gives the old one up.
            unsafe {
                ptr::copy_nonoverlapping(ptr, grown, layout.size());
                self.dealloc(ptr, layout);
            }
        }
        grown
    }
}
