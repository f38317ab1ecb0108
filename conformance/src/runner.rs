//! Selection (by area or id), ordering, running, and turning recorded
//! observations into verdicts with the target's expectations applied.

use serde::Serialize;

use crate::checks::{self, CheckDef, Ctx, Raw, Status, catalogue::CATALOGUE};
use crate::expectations::{Deviation, Expectations};
use crate::http::Http;
use crate::in_process;
pub use crate::in_process::Environment;
use crate::target::Target;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Area names (`DISC`) or check ids (`DISC-02`); empty = everything.
    pub only: Vec<String>,
}

impl Selection {
    /// Areas to run, in the canonical order.
    pub fn areas(&self) -> Vec<&'static str> {
        checks::AREAS
            .iter()
            .map(|a| a.name)
            .filter(|a| {
                self.only.is_empty()
                    || self.only.iter().any(|o| {
                        o.eq_ignore_ascii_case(a)
                            || checks::def(&o.to_ascii_uppercase()).is_some_and(|d| d.area == *a)
                    })
            })
            .collect()
    }

    /// True when `def` is selected.
    pub fn includes(&self, def: &CheckDef) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| o.eq_ignore_ascii_case(def.area) || o.eq_ignore_ascii_case(def.id))
    }

    /// Names in `only` that are neither an area nor an id.
    pub fn unknown(&self) -> Vec<String> {
        self.only
            .iter()
            .filter(|o| {
                !checks::AREAS.iter().any(|a| o.eq_ignore_ascii_case(a.name))
                    && checks::def(&o.to_ascii_uppercase()).is_none()
            })
            .cloned()
            .collect()
    }
}

/// The verdict on one check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: &'static str,
    pub area: &'static str,
    pub level: &'static str,
    pub level_text: &'static str,
    pub mode: &'static str,
    pub source: &'static str,
    pub assertion: &'static str,
    pub status: Status,
    /// Why (failure messages, skip reasons, notes), joined.
    pub message: String,
    /// Request/response evidence for failures.
    pub evidence: Vec<String>,
    /// The documented deviation, when one applies.
    pub deviation: Option<Deviation>,
    /// A deviation is documented but the check passed.
    pub unexpected_pass: bool,
}

/// Counts per status.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub info: usize,
    pub skip: usize,
    pub deviation: usize,
    pub not_implemented: usize,
}

impl Counts {
    fn add(&mut self, s: Status) {
        match s {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Warn => self.warn += 1,
            Status::Info => self.info += 1,
            Status::Skip => self.skip += 1,
            Status::Deviation => self.deviation += 1,
            Status::NotImplemented => self.not_implemented += 1,
        }
    }

    /// Checks that ran (not skipped, not unimplemented).
    pub fn ran(&self) -> usize {
        self.pass + self.fail + self.warn + self.info + self.deviation
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub issuer: String,
    pub started_unix: u64,
    pub duration_ms: u128,
    pub results: Vec<CheckResult>,
}

impl Report {
    /// Counts over every result.
    pub fn totals(&self) -> Counts {
        let mut c = Counts::default();
        for r in &self.results {
            c.add(r.status);
        }
        c
    }

    /// Counts per area, in canonical order.
    pub fn by_area(&self) -> Vec<(&'static str, Counts)> {
        let mut out: Vec<(&'static str, Counts)> = Vec::new();
        for r in &self.results {
            match out.iter_mut().find(|(a, _)| *a == r.area) {
                Some((_, c)) => c.add(r.status),
                None => {
                    let mut c = Counts::default();
                    c.add(r.status);
                    out.push((r.area, c));
                }
            }
        }
        out
    }

    /// True when no MUST failed (deviations excluded).
    pub fn ok(&self) -> bool {
        self.results.iter().all(|r| r.status != Status::Fail)
    }

    /// A result by id.
    pub fn get(&self, id: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.id == id)
    }
}

/// Starts what the target asks for and prepares a context.
pub async fn prepare(target: Target) -> anyhow::Result<(Ctx, Environment)> {
    let http = Http::new()?;
    let started = in_process::start(&target).await?;
    let issuer = match started.issuer {
        Some(issuer) => issuer,
        None => target.server.issuer.clone().unwrap_or_default(),
    };
    let gateway_url = started.gateway_url.or_else(|| {
        target
            .gateway
            .as_ref()
            .and_then(|g| g.url.clone())
            .filter(|u| !u.is_empty())
    });
    let mut cx = Ctx::new(target, issuer, http);
    cx.clock = started.clock;
    cx.rotate = started.rotate;
    cx.mint = started.mint;
    cx.gateway_url = gateway_url;
    Ok((cx, started.env))
}

/// Runs the selected areas in `cx` and produces the report.
pub async fn run_in(mut cx: Ctx, expectations: &Expectations, sel: &Selection) -> Report {
    let started = crate::clock::stopwatch();
    let started_unix = u64::try_from(crate::clock::unix_now()).unwrap_or(0);
    for area in sel.areas() {
        run_area(&mut cx, area).await;
    }
    let results = finalize(&cx, expectations, sel);
    Report {
        target: cx.target.name.clone(),
        issuer: cx.issuer.clone(),
        started_unix,
        duration_ms: started.elapsed().as_millis(),
        results,
    }
}

/// Loads expectations, starts the environment, runs.
pub async fn run(target: Target, sel: &Selection) -> anyhow::Result<Report> {
    let expectations = match &target.expectations {
        Some(p) => Expectations::load(p)?,
        None => Expectations::default(),
    };
    // The environment (in-process servers) lives until the run ends.
    let (cx, _env) = prepare(target).await?;
    Ok(run_in(cx, &expectations, sel).await)
}

async fn run_area(cx: &mut Ctx, area: &str) {
    if let Some(area) = checks::area(area) {
        (area.run)(cx).await;
    }
}

fn finalize(cx: &Ctx, expectations: &Expectations, sel: &Selection) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let ran: Vec<&str> = sel.areas();
    for def in CATALOGUE {
        if !sel.includes(def) || !ran.contains(&def.area) {
            continue;
        }
        let records = cx.records().get(def.id).cloned().unwrap_or_default();
        let worst = records.iter().map(|r| r.raw).max();
        let mut status = match worst {
            None if checks::is_implemented(def.id) => Status::Skip,
            None => Status::NotImplemented,
            Some(Raw::Skip) => Status::Skip,
            Some(Raw::Info) => Status::Info,
            Some(Raw::Pass) => Status::Pass,
            Some(Raw::Warn) => Status::Warn,
            Some(Raw::Fail) => match def.level {
                checks::Level::Must | checks::Level::MustStar => Status::Fail,
                checks::Level::Should | checks::Level::Derived => Status::Warn,
                checks::Level::May | checks::Level::Info => Status::Info,
            },
        };
        let mut message: Vec<String> = match worst {
            Some(w) if w >= Raw::Warn => records
                .iter()
                .filter(|r| r.raw >= Raw::Warn && !r.message.is_empty())
                .map(|r| r.message.clone())
                .collect(),
            _ => records
                .iter()
                .filter(|r| !r.message.is_empty())
                .map(|r| r.message.clone())
                .collect(),
        };
        if worst.is_none() {
            message.push(if status == Status::Skip {
                "not reached (a prerequisite is missing on this target)".into()
            } else {
                "not implemented".into()
            });
        }
        message.dedup();
        let evidence: Vec<String> = records
            .iter()
            .filter(|r| r.raw >= Raw::Warn)
            .filter_map(|r| r.evidence.clone())
            .collect();
        let deviation = expectations.get(def.id).cloned();
        let mut unexpected_pass = false;
        if let Some(d) = &deviation {
            use crate::expectations::Expect;
            match (d.expect, status) {
                (Expect::Fail, Status::Fail | Status::Warn)
                | (Expect::Warn, Status::Warn | Status::Fail)
                | (Expect::Skip, Status::Skip) => status = Status::Deviation,
                (_, Status::Pass) => unexpected_pass = true,
                _ => {}
            }
        }
        out.push(CheckResult {
            id: def.id,
            area: def.area,
            level: def.level.as_str(),
            level_text: def.level_text,
            mode: def.mode,
            source: def.source,
            assertion: def.assertion,
            status,
            message: message.join("; "),
            evidence,
            deviation,
            unexpected_pass,
        });
    }
    out
}
