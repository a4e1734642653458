//! One setting of glibc's allocator, made once at start-up.
//!
//! glibc serves blocks of 128 KiB and more with `mmap` and returns them on
//! `free`, but each time it frees such a block it raises that threshold to the
//! block's size: later blocks of that size come from the heap instead, and
//! stay there, interleaved with small long-lived ones. Publishing compresses
//! each index chunk with a fresh xz encoder (about 2 MB of tables, freed after
//! every chunk), so the heap grew with the number of chunks: a 5,000-package
//! publish peaked at 40 MB RSS, 25 MB with the threshold fixed at its default.

/// Fix the mmap threshold at glibc's default (which also stops it from moving).
pub fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_MMAP_THRESHOLD: i32 = -3;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes a tuning parameter of the C allocator;
        // it is called before any other thread exists and takes no pointers.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 << 10);
        }
    }
}
