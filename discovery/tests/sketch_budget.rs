//! The sketches filled to their limits, as a per-consumer profile would hold them: each one's
//! `memory_bytes` against its documented worst case, and a profile sized to the 64 KiB
//! per-consumer target staying inside it.

use apitap_discovery::sketch::{
    AccessConfig, AccessLog, BankClock, BloomConfig, BoundedCounts, DistinctWindow, Ewma, IdFilter, LogHistogram,
    RateWindow, SeasonConfig, SeasonalRate, NS_PER_HOUR, NS_PER_MINUTE, NS_PER_SEC,
};

/// splitmix64, so the fill is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Every structure of a consumer profile, filled far past its limits.
struct Profile {
    rate: SeasonalRate,
    received: IdFilter,
    endpoints: BoundedCounts,
    agents: BoundedCounts,
    networks: BoundedCounts,
    fingerprints: BoundedCounts,
    minute: RateWindow,
    errors: RateWindow,
    foreign_ids: DistinctWindow,
    accounts: AccessLog,
    bytes: LogHistogram,
    latency: LogHistogram,
    error_ratio: Ewma,
}

impl Profile {
    fn new(distinct_cap: u32, max_accounts: u32) -> Self {
        Profile {
            rate: SeasonalRate::new(SeasonConfig::default()),
            received: IdFilter::new(BloomConfig::default()),
            endpoints: BoundedCounts::new(64),
            agents: BoundedCounts::new(8),
            networks: BoundedCounts::new(16),
            fingerprints: BoundedCounts::new(8),
            minute: RateWindow::new(NS_PER_MINUTE),
            errors: RateWindow::new(2 * NS_PER_MINUTE),
            foreign_ids: DistinctWindow::with_limits(NS_PER_HOUR, 10, distinct_cap),
            accounts: AccessLog::new(AccessConfig { max_keys: max_accounts, ..AccessConfig::default() }),
            bytes: LogHistogram::new(),
            latency: LogHistogram::new(),
            error_ratio: Ewma::new(0.05),
        }
    }

    fn fill(&mut self, clock: &BankClock, requests: u64) {
        let mut rng = Rng(1);
        let t0 = 20_000 * 24 * NS_PER_HOUR;
        for i in 0..requests {
            let ts = t0 + i * NS_PER_SEC / 4;
            let r = rng.next();
            self.rate.record(clock, ts, 1);
            self.received.insert(&r.to_le_bytes());
            for c in [&mut self.endpoints, &mut self.agents, &mut self.networks, &mut self.fingerprints] {
                c.observe(r.rotate_left(7), ts);
            }
            self.minute.add(ts, 1);
            self.errors.add(ts, r & 1);
            self.foreign_ids.insert(r.rotate_left(13), ts);
            self.accounts.record(r.rotate_left(21), ts);
            self.accounts.record(r.rotate_left(21), ts + 10 * NS_PER_MINUTE);
            self.bytes.record(r >> 40);
            self.latency.record(r >> 50);
            self.error_ratio.update((r & 1) as f64);
        }
    }

    fn memory_bytes(&self) -> usize {
        self.rate.memory_bytes()
            + self.received.memory_bytes()
            + self.endpoints.memory_bytes()
            + self.agents.memory_bytes()
            + self.networks.memory_bytes()
            + self.fingerprints.memory_bytes()
            + self.minute.memory_bytes()
            + self.errors.memory_bytes()
            + self.foreign_ids.memory_bytes()
            + self.accounts.memory_bytes()
            + self.bytes.memory_bytes()
            + self.latency.memory_bytes()
            + self.error_ratio.memory_bytes()
    }
}

#[test]
fn each_structure_stays_within_its_documented_worst_case() {
    let clock = BankClock::new(chrono_tz::Europe::London);
    let mut p = Profile::new(4_096, 1_024);
    p.fill(&clock, 30_000);
    // The figures of the sketch module's table.
    assert!(p.rate.memory_bytes() <= 1_864, "{}", p.rate.memory_bytes());
    assert!(p.received.memory_bytes() <= 16_144, "{}", p.received.memory_bytes());
    assert!(p.received.stages_dropped() > 0);
    assert!(p.endpoints.memory_bytes() <= 40 * 64 + 360, "{}", p.endpoints.memory_bytes());
    assert!(p.minute.memory_bytes() <= 152);
    assert_eq!(p.foreign_ids.count(20_000 * 24 * NS_PER_HOUR + 30_000 * NS_PER_SEC / 4), 4_096);
    assert!(p.foreign_ids.memory_bytes() <= 10 * 4_096 + 4 * 10 + 144, "{}", p.foreign_ids.memory_bytes());
    assert_eq!(p.accounts.len(), 1_024);
    assert!(p.accounts.memory_bytes() <= 45 * 1_024 + 136, "{}", p.accounts.memory_bytes());
    assert!(p.bytes.memory_bytes() <= 304);
    assert_eq!(p.error_ratio.memory_bytes(), 32);
    assert!(std::mem::size_of::<BankClock>() <= 16);
}

#[test]
fn a_profile_sized_for_the_target_fits_in_64_kib() {
    let clock = BankClock::utc();
    let mut p = Profile::new(1_024, 512);
    p.fill(&clock, 30_000);
    let bytes = p.memory_bytes();
    eprintln!("profile at 1,024 ids and 512 accounts: {bytes} bytes");
    assert!(bytes <= 64 * 1024, "{bytes}");
    // And the defaults alone would not: the budget note in the module docs is needed.
    let mut big = Profile::new(4_096, 1_024);
    big.fill(&clock, 30_000);
    assert!(big.memory_bytes() > 64 * 1024, "{}", big.memory_bytes());
}
