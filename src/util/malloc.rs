//! Two settings of glibc's allocator, made once at start-up.
//!
//! glibc serves blocks of 128 KiB and more with `mmap` and returns them on
//! `free`, but each time it frees such a block it raises that threshold to the
//! block's size: later blocks of that size come from the heap instead, and
//! stay there, interleaved with small long-lived ones. Publishing compresses
//! each index chunk with a fresh xz encoder (about 2 MB of tables, freed after
//! every chunk), so the heap grew with the number of chunks: a 5,000-package
//! publish peaked at 40 MB RSS, 25 MB with the threshold fixed at its default.
//!
//! glibc also gives threads their own heaps ("arenas"), up to eight per core,
//! each with memory of its own that stays resident. Publishing runs dozens of
//! threads that mostly wait on the filesystem (copying and syncing pool
//! files); one arena per core is plenty for them: 2.4 MB less at 5,000
//! packages on 2 cores, no slower.

// mallopt is C: the one `unsafe` block here has its SAFETY note.
#![allow(unsafe_code)]

/// Fix the mmap threshold at glibc's default (which also stops it from moving)
/// and allow one arena per core.
pub(crate) fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_MMAP_THRESHOLD: i32 = -3;
        const M_ARENA_MAX: i32 = -8;
        let arenas = i32::try_from(crate::util::parallel::cores()).unwrap_or(8);
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // SAFETY: mallopt only changes tuning parameters of the C allocator; it
        // is called before any other thread exists and takes no pointers.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 << 10);
            mallopt(M_ARENA_MAX, arenas.clamp(2, 8));
        }
    }
}
