//! (in progress)

use super::Ctx;

pub const IDS: &[&str] = &[];

pub async fn run(_cx: &mut Ctx) {}
