//! A value per proxy worker thread, each on cache lines of its own.
//!
//! Every request updates a few shared structures (memo locks, counters). Shared by all workers,
//! each update pulls the cache line over from the core that touched it last; one copy per
//! worker (`crate::server::worker_slot`) keeps each line on one core.

/// One `T` per worker thread, plus one for any other thread (see [`PerWorker::get`]).
#[derive(Debug)]
pub(crate) struct PerWorker<T> {
    slots: Box<[Padded<T>]>,
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// Copies for this machine: one per CPU (a worker each by default) and one for other threads.
pub(crate) fn copies() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(64)) + 1
}

impl<T: Default> Default for PerWorker<T> {
    fn default() -> Self {
        Self {
            slots: (0..copies()).map(|_| Padded::default()).collect(),
        }
    }
}

impl<T> PerWorker<T> {
    /// Which copy this thread uses (more workers than copies share them).
    pub(crate) fn index(&self) -> usize {
        crate::server::worker_slot() % self.slots.len()
    }

    /// This thread's copy.
    pub(crate) fn get(&self) -> &T {
        &self.slots[self.index()].0
    }

    /// Every copy.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().map(|p| &p.0)
    }

    /// How many copies there are.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}
