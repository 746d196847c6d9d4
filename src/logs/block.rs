//! Text storage for the log ring's chunks (issue 17) in blocks of [`BLOCK_BYTES`] mapped straight from the kernel,
//! aligned to their size and, when asked, marked for transparent huge pages: where the kernel has them, filling a
//! block costs one page fault instead of 512. Filling a million-line ring from 4 KiB pages took ~37,000 faults on
//! the console thread (~50 ms of CPU). A huge page is resident whole from its first byte, so only a chunk expected to
//! fill its block asks for one (the ring decides); a block is unmapped whole when its chunk is freed, outside the
//! allocator. Where a mapping is refused, or a line is longer than a block, the text lives in a `String` instead:
//! same behaviour, plain pages. No block asks for huge pages in a VM whose balloon hands free memory back to the
//! host, nor after huge pages' first faults took over 1 ms of CPU, about what 512 base-page faults take: there a
//! huge page is the dearer ([`huge_pages_asked`]). Linux only (`MADV_HUGEPAGE`), as the rest of deckhand. Imports
//! `nix` only.

use std::ffi::c_void;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nix::sys::mman::{MapFlags, MmapAdvise, ProtFlags, madvise, mmap_anonymous, munmap};
use nix::time::{ClockId, clock_gettime};

/// Bytes of one block: one huge page on x86-64 and aarch64 (4 KiB base pages).
pub const BLOCK_BYTES: usize = 2 * 1024 * 1024;

/// Whether blocks ask for transparent huge pages now: the system offers them ([`HugePages::offered`]) and they have
/// not been given up after [`HUGE_SLOW_FAULTS`] faults over [`HUGE_FAULT_BUDGET`].
pub fn huge_pages_asked() -> bool {
    HUGE.asks()
}

/// The process's huge-page policy.
static HUGE: std::sync::LazyLock<HugePages> = std::sync::LazyLock::new(|| {
    let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
    HugePages::new(thp.is_ok_and(|s| thp_selected(&s)) && !reports_free_pages(virtio_devices()))
});

/// The CPU one huge page's first fault may take: 512 base-page faults cost about 0.7-1.1 ms where measured, a huge
/// page about 0.2 ms. A slower one was compacted for, or faulted in again by a hypervisor (a balloon this process
/// cannot see, such as Hyper-V's): base pages are then the cheaper, and after [`HUGE_SLOW_FAULTS`] such faults no
/// block asks again.
const HUGE_FAULT_BUDGET: Duration = Duration::from_millis(1);

/// Faults over [`HUGE_FAULT_BUDGET`] after which no block asks for a huge page again.
const HUGE_SLOW_FAULTS: u32 = 2;

/// Whether blocks ask for huge pages: offered by the system, and fewer than [`HUGE_SLOW_FAULTS`] cost too much.
struct HugePages {
    /// The kernel gives them to regions that ask (`always` or `madvise` selected) and no hypervisor takes free
    /// memory back ([`reports_free_pages`]).
    offered: bool,
    /// Huge-page faults over the budget so far.
    slow: AtomicU32,
}

impl HugePages {
    fn new(offered: bool) -> HugePages {
        HugePages {
            offered,
            slow: AtomicU32::new(0),
        }
    }

    fn asks(&self) -> bool {
        self.offered && self.slow.load(Ordering::Relaxed) < HUGE_SLOW_FAULTS
    }

    /// Faults a block's huge page in (its first write) and judges what that took of this thread's CPU (wall time
    /// would count being descheduled).
    fn judge_fault(&self, block: NonNull<u8>) {
        let before = thread_cpu();
        // SAFETY: `block` is the first byte of a live, writable, zero-filled mapping that nothing refers to yet
        // (called from `Block::map` before the `Block` exists); writing a zero changes nothing.
        unsafe { block.write_volatile(0) };
        if let (Some(before), Some(after)) = (before, thread_cpu()) {
            self.judge(after.saturating_sub(before));
        }
    }

    /// A huge page's first fault took `cost`: the second over [`HUGE_FAULT_BUDGET`] gives huge pages up (one alone
    /// may be an interrupt counted against the thread).
    fn judge(&self, cost: Duration) {
        if cost > HUGE_FAULT_BUDGET {
            self.slow.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// This thread's CPU time.
fn thread_cpu() -> Option<Duration> {
    let now = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    Some(Duration::from(now))
}

/// `transparent_hugepage/enabled` selects `always` or `madvise` (e.g. `always [madvise] never`).
fn thp_selected(enabled: &str) -> bool {
    enabled.contains("[always]") || enabled.contains("[madvise]")
}

/// The virtio devices' `(device, features)` files from sysfs.
fn virtio_devices() -> Vec<(String, String)> {
    let Ok(dir) = std::fs::read_dir("/sys/bus/virtio/devices") else {
        return Vec::new();
    };
    let read = |path: std::path::PathBuf| std::fs::read_to_string(path).unwrap_or_default();
    dir.flatten()
        .map(|d| {
            (
                read(d.path().join("device")),
                read(d.path().join("features")),
            )
        })
        .collect()
}

/// A virtio balloon (device `0x0005`) with free page reporting (feature bit 5, `VIRTIO_BALLOON_F_REPORTING`; sysfs
/// prints the bits as `0`/`1`, bit 0 first) hands free blocks of huge-page size and up back to the host, which
/// drops their memory (Firecracker, Cloud Hypervisor, QEMU with `free-page-reporting=on`). A huge page is then cut
/// from memory the host must fault in again, 4 KiB at a time, while base pages come from small free blocks it never
/// took. Measured in such a VM, 150 MiB touched by a fresh process after a few idle seconds: huge pages 0.31-0.41 s,
/// base pages 0.07-0.09 s; the real binary took 1M lines in 0.39 s with huge pages, 0.16 s without.
fn reports_free_pages(devices: impl IntoIterator<Item = (String, String)>) -> bool {
    devices.into_iter().any(|(device, features)| {
        device.trim() == "0x0005" && features.as_bytes().get(5) == Some(&b'1')
    })
}

/// A zeroed, writable anonymous mapping of [`BLOCK_BYTES`], aligned to its size; unmapped on drop.
struct Block {
    ptr: NonNull<u8>,
    /// Advised for huge pages (and the kernel offers them).
    huge: bool,
}

// SAFETY: a Block owns its mapping exclusively (as a Box<[u8]> owns its bytes); nothing else points into it.
unsafe impl Send for Block {}
// SAFETY: shared access only reads (`bytes`); writing needs `&mut`.
unsafe impl Sync for Block {}

impl Block {
    /// Maps twice the size, keeps the aligned block inside and unmaps the rest; with `huge`, advises huge pages
    /// where `policy` asks for them, and has it judge the first fault. `None` if the kernel refuses.
    fn map(huge: bool, policy: &HugePages) -> Option<Block> {
        let huge = huge && policy.asks();
        let twice = NonZeroUsize::new(2 * BLOCK_BYTES)?;
        let (prot, flags) = (
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_PRIVATE | MapFlags::MAP_ANONYMOUS,
        );
        // SAFETY: a fresh anonymous mapping at an address the kernel picks aliases nothing.
        let raw = unsafe { mmap_anonymous(None, twice, prot, flags) }.ok()?;
        let base = raw.as_ptr() as usize;
        let head = base.next_multiple_of(BLOCK_BYTES) - base;
        let tail = BLOCK_BYTES - head;
        // SAFETY: `head` < BLOCK_BYTES (the mapping is page-aligned), so the block starts inside the mapping and
        // ends at or before its end; the head and tail ranges lie inside the mapping just made and nothing refers to
        // them. When a trim fails, the whole mapping is unmapped and nothing of it is used.
        unsafe {
            let ptr = raw.cast::<u8>().add(head);
            let trimmed = (head == 0 || munmap(raw, head).is_ok())
                && munmap(ptr.add(BLOCK_BYTES).cast::<c_void>(), tail).is_ok();
            if !trimmed {
                let _ = munmap(raw, 2 * BLOCK_BYTES);
                return None;
            }
            // Advice only: when the kernel refuses it, the block is backed by base pages and not counted as huge.
            let huge = huge
                && madvise(ptr.cast::<c_void>(), BLOCK_BYTES, MmapAdvise::MADV_HUGEPAGE).is_ok();
            if huge {
                policy.judge_fault(ptr);
            }
            Some(Block { ptr, huge })
        }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the block is a live mapping of BLOCK_BYTES, zero-filled by the kernel, so every byte is
        // initialised; `&self` excludes writers.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), BLOCK_BYTES) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only reference.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), BLOCK_BYTES) }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: the block is the mapping made in `map`, and no reference into it outlives `self`.
        let _ = unsafe { munmap(self.ptr.cast::<c_void>(), BLOCK_BYTES) };
    }
}

/// Where a [`Text`]'s bytes are.
enum Store {
    /// The first `len` bytes of a block: whole `&str`s copied end to end, so valid UTF-8.
    Block(Block, usize),
    Heap(String),
}

/// Text appended a `&str` at a time into room fixed up front: a block when the room asked for fits one (and the
/// kernel grants it), else a `String`. Outgrowing a block moves the text to a `String`.
pub struct Text(Store);

impl Text {
    /// Empty text with room for at least `bytes`; in a block advised for huge pages when `huge` (for text
    /// expected to fill it: a huge page is resident whole).
    pub fn with_capacity(bytes: usize, huge: bool) -> Text {
        if bytes <= BLOCK_BYTES
            && let Some(block) = Block::map(huge, &HUGE)
        {
            return Text(Store::Block(block, 0));
        }
        Text(Store::Heap(String::with_capacity(bytes)))
    }

    /// Whether it lies in a block advised for huge pages.
    pub fn huge(&self) -> bool {
        matches!(&self.0, Store::Block(block, _) if block.huge)
    }

    /// Bytes it has room for without moving.
    pub fn capacity(&self) -> usize {
        match &self.0 {
            Store::Block(..) => BLOCK_BYTES,
            Store::Heap(s) => s.capacity(),
        }
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Store::Block(_, len) => *len,
            Store::Heap(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Store::Block(block, len) => {
                let bytes = &block.bytes()[..*len];
                // SAFETY: a block's first `len` bytes are whole `&str`s copied end to end (`push_str`), and a
                // concatenation of valid UTF-8 strings is valid UTF-8.
                unsafe { std::str::from_utf8_unchecked(bytes) }
            }
            Store::Heap(s) => s,
        }
    }

    pub fn push_str(&mut self, text: &str) {
        match &mut self.0 {
            Store::Block(block, len) if *len + text.len() <= BLOCK_BYTES => {
                block.bytes_mut()[*len..*len + text.len()].copy_from_slice(text.as_bytes());
                *len += text.len();
            }
            Store::Block(..) => {
                let mut moved = String::with_capacity(self.len() + text.len());
                moved.push_str(self.as_str());
                moved.push_str(text);
                self.0 = Store::Heap(moved);
            }
            Store::Heap(s) => s.push_str(text),
        }
    }

    pub fn clear(&mut self) {
        match &mut self.0 {
            Store::Block(_, len) => *len = 0,
            Store::Heap(s) => s.clear(),
        }
    }
}

impl Default for Text {
    fn default() -> Text {
        Text(Store::Heap(String::new()))
    }
}

impl Clone for Text {
    /// A block's text into a block (without the huge-page advice: a copy is no flood), a `String`'s into a
    /// `String`.
    fn clone(&self) -> Text {
        match &self.0 {
            Store::Block(..) => {
                let mut copy = Text::with_capacity(BLOCK_BYTES, false);
                copy.push_str(self.as_str());
                copy
            }
            Store::Heap(s) => Text(Store::Heap(s.clone())),
        }
    }
}

/// Sizes only: log text stays out of Debug output.
impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self.0 {
            Store::Block(..) => "block",
            Store::Heap(_) => "heap",
        };
        f.debug_struct("Text")
            .field("store", &store)
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_pages_are_not_asked_for_where_a_balloon_reports_free_pages() {
        assert!(thp_selected("always [madvise] never"));
        assert!(thp_selected("[always] madvise never"));
        assert!(!thp_selected("always madvise [never]"));
        let dev = |d: &str, f: &str| (d.to_string(), f.to_string());
        // As read in this Firecracker VM (bit 0 first): the balloon with STATS_VQ, DEFLATE_ON_OOM and REPORTING.
        let reporting = "0110010100000000000000000000000010000000000000000000000000000000\
                         0000000000000000000000000000000000000000000000000000000000000000\n";
        assert!(reports_free_pages([
            dev("0x0002\n", "1"),
            dev("0x0005\n", reporting)
        ]));
        // A balloon without reporting, reporting bits on another device, no devices: huge pages stay.
        assert!(!reports_free_pages([dev("0x0005\n", "0110000000000000")]));
        assert!(!reports_free_pages([dev("0x0001\n", reporting)]));
        assert!(!reports_free_pages([dev("0x0005\n", "01")]));
        assert!(!reports_free_pages(Vec::new()));
    }

    /// A huge page's first fault over the budget (compaction, or memory a hypervisor took back) makes the blocks
    /// after it base pages; where the system offers none, no block asks.
    #[test]
    fn slow_huge_pages_make_the_next_blocks_base_pages() {
        let policy = HugePages::new(true);
        policy.judge(HUGE_FAULT_BUDGET / 4);
        assert!(policy.asks(), "a fast fault keeps huge pages");
        policy.judge(HUGE_FAULT_BUDGET * 4);
        policy.judge(HUGE_FAULT_BUDGET / 4);
        assert!(policy.asks(), "one slow fault alone keeps them");
        policy.judge(HUGE_FAULT_BUDGET * 4);
        assert!(!policy.asks());
        policy.judge(HUGE_FAULT_BUDGET / 4);
        assert!(!policy.asks(), "given up for good");
        assert!(!Block::map(true, &policy).unwrap().huge);
        assert!(!Block::map(true, &HugePages::new(false)).unwrap().huge);
    }

    #[test]
    fn a_block_is_aligned_to_its_size_and_zeroed() {
        let block = Block::map(true, &HugePages::new(true)).unwrap();
        assert_eq!(block.ptr.as_ptr() as usize % BLOCK_BYTES, 0);
        assert!(block.bytes().iter().all(|b| *b == 0));
    }

    #[test]
    fn text_fills_a_block_to_the_byte_then_moves_to_the_heap() {
        let mut text = Text::with_capacity(100, false);
        assert_eq!(text.capacity(), BLOCK_BYTES);
        let line = "é".repeat(1000) + "\n"; // 2,001 bytes, multi-byte
        let mut want = String::new();
        while text.len() + line.len() <= BLOCK_BYTES {
            text.push_str(&line);
            want.push_str(&line);
        }
        assert!(matches!(text.0, Store::Block(..)));
        assert_eq!(text.as_str(), want);
        text.push_str(&line);
        want.push_str(&line);
        assert!(matches!(text.0, Store::Heap(_)));
        assert_eq!(text.as_str(), want);
        text.clear();
        assert!(text.is_empty());
    }

    #[test]
    fn a_text_larger_than_a_block_lives_on_the_heap_and_clones_equal() {
        let mut text = Text::with_capacity(BLOCK_BYTES + 1, true);
        assert!(matches!(text.0, Store::Heap(_)));
        text.push_str("abc");
        let small = {
            let mut t = Text::with_capacity(10, true);
            t.push_str("xyz");
            t
        };
        assert_eq!(text.clone().as_str(), "abc");
        assert_eq!(small.clone().as_str(), "xyz");
        assert_eq!(small.clone().capacity(), BLOCK_BYTES);
        assert!(!format!("{small:?}").contains("xyz"));
    }
}
