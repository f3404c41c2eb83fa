//! The behaviour suite every Casework store must pass.
//!
//! A store's test module runs all of it with one line:
//!
//! ```text
//! #[cfg(test)]
//! mod tests {
//!     casework_store_conformance::suite!(std::sync::Arc::new(crate::MemoryStore::new()));
//! }
//! ```
//!
//! The expression is evaluated once per behaviour inside an async block (so it may
//! `.await`) and must give a fresh, empty `Arc<impl CaseStore>`. Each behaviour becomes its
//! own `#[test]`, so a failure names exactly what the store gets wrong.

pub mod behaviours;
pub mod model;

use std::future::Future;

pub use casework_core::ports::CaseStore;

/// Runs one behaviour on a multi-threaded runtime (several worker threads, so concurrency
/// behaviours really race).
pub fn run<F: Future<Output = ()>>(f: F) {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(f),
        Err(e) => panic!("cannot start a tokio runtime for the conformance suite: {e}"),
    }
}

/// Expands to one `#[test]` per conformance behaviour, each on a fresh store from `$make`.
#[macro_export]
macro_rules! suite {
    ($make:expr) => {
        $crate::suite!(@each $make;
            numbers_are_unique_and_increasing,
            concurrent_creates_get_unique_numbers,
            create_refuses_anything_but_an_opened_event,
            unknown_records_are_not_found,
            a_created_case_round_trips,
            commits_append_events_and_replay_to_the_state,
            a_stale_version_is_a_conflict_and_changes_nothing,
            concurrent_commits_on_one_version_let_exactly_one_win,
            many_writers_lose_no_update,
            a_commit_is_all_or_nothing,
            misnumbered_events_are_refused,
            filters_select_the_right_cases,
            pagination_walks_every_case_once,
            pagination_is_stable_under_concurrent_inserts,
            search_ranks_a_fixed_corpus,
            search_honours_kind_and_limit,
            internal_text_is_never_matched_for_a_customer,
            a_customer_list_query_matches_only_visible_text,
            search_reads_a_whole_case_and_follows_its_edits,
            similar_cases_exclude_the_case_and_respect_scope,
            the_reopen_report_matches_the_reference_on_a_fixed_data_set,
            the_reopen_report_honours_its_period,
            the_reopen_report_drills_down_to_cases_and_reasons,
            people_articles_and_defects_round_trip,
            emails_are_queued_with_their_commit,
            a_cases_outbox_holds_only_its_messages,
            outbox_claims_are_exclusive_and_leases_lapse,
            outbox_outcomes_are_recorded,
            tokens_are_found_by_hash_and_revoked,
            idempotent_creates_make_one_case,
            stats_count_what_is_stored,
            random_commands_change_what_an_independent_model_says,
        );
    };
    (@each $make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::run(async {
                    let store = $make;
                    $crate::behaviours::$name(store).await;
                });
            }
        )+
    };
}
