//! The one process-wide generator behind randn, rand, dropout and initialisation (rt_manual_seed).

use parking_lot::Mutex;
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// PyTorch's default seed, so an unseeded process is still reproducible run to run.
const DEFAULT_SEED: u64 = 67_280_421_310_721;

static RNG: Mutex<Option<SmallRng>> = Mutex::new(None);

/// Seeds the process-wide generator (`torch.manual_seed`).
pub fn manual_seed(seed: u64) {
    *RNG.lock() = Some(SmallRng::seed_from_u64(seed));
}

/// Runs `f` with the generator locked (one lock per tensor, not per element).
pub fn with_rng<R>(f: impl FnOnce(&mut SmallRng) -> R) -> R {
    let mut guard = RNG.lock();
    f(guard.get_or_insert_with(|| SmallRng::seed_from_u64(DEFAULT_SEED)))
}
