//! The behaviour suite every Casework store must pass, grouped as core's store port is: one
//! group per capability, in `behaviours/` (`case_log.rs`, `directory.rs`, `knowledge.rs`,
//! `case_queries.rs`, `reports.rs`, `outbox.rs`, `diagnostics.rs`, `feed.rs`, `sessions.rs`,
//! `quarantine.rs`, `webhooks.rs`), and last
//! `service.rs`, the service driven over the whole store, and `inbound.rs`, inbound email
//! through it.
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
//! A store being written runs one group at a time, from the case log on, and watches it
//! pass before writing the next capability:
//!
//! ```text
//! casework_store_conformance::case_log_suite!(std::sync::Arc::new(crate::NewStore::new()));
//! ```
//!
//! The expression is evaluated once per behaviour inside an async block (so it may
//! `.await`) and must give a fresh, empty `Arc` of the store. Each group becomes a module
//! named after it (`case_log`, …) holding one `#[test]` per behaviour, so a failure names
//! the group and exactly what the store gets wrong (`cargo test case_log::`). The module
//! sees what the calling module sees (`use super::*`).
//!
//! A store that can be copied from and to (`StoreTransfer`, for `casework store copy`) also
//! runs `casework_store_conformance::transfer_suite!(make_store)`, the `transfer` group:
//! each of its behaviours gets two fresh stores from the expression, a source and a target.
//! It is not part of [`suite!`]: a store that only reaches another server's data (the REST
//! store) is copied from that server's own database instead.

pub mod behaviours;
pub mod judged;
pub mod model;
pub mod upgrades;

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

/// Every page of the case list in `order`, `size` cases a page, following each page's
/// cursor to the end: the numbers of each page in turn. The conformance groups and the
/// stores' upgrade tests walk lists with it, so they all read cursors the same way.
pub async fn list_pages<S: casework_core::ports::CaseQueries + ?Sized>(
    store: &S,
    filter: casework_core::ports::CaseFilter,
    order: casework_core::ports::CaseOrder,
    size: u32,
) -> Vec<Vec<casework_core::ids::CaseNumber>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let req =
            casework_core::ports::PageRequest::from_params_in(order, Some(size), cursor.as_deref())
                .unwrap_or_else(|e| panic!("a page request in {order:?}: {e}"));
        let page = store
            .list_cases(filter.clone(), req)
            .await
            .unwrap_or_else(|e| panic!("a page of the case list in {order:?}: {e}"));
        pages.push(page.items.iter().map(|c| c.number).collect());
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return pages,
        }
    }
}

/// Every group, each in its module: what a store must pass to be done. A new capability's
/// group is one more line here.
#[macro_export]
macro_rules! suite {
    ($make:expr) => {
        $crate::case_log_suite!($make);
        $crate::directory_suite!($make);
        $crate::knowledge_suite!($make);
        $crate::case_queries_suite!($make);
        $crate::reports_suite!($make);
        $crate::outbox_suite!($make);
        $crate::diagnostics_suite!($make);
        $crate::feed_suite!($make);
        $crate::sessions_suite!($make);
        $crate::quarantine_suite!($make);
        $crate::webhooks_suite!($make);
        $crate::mailbox_suite!($make);
        $crate::attachments_suite!($make);
        $crate::surroundings_suite!($make);
        $crate::service_suite!($make);
        $crate::inbound_suite!($make);
    };
}

/// One `#[test]` per behaviour of the case log: numbers, creates, loads, commits, histories, in a module `case_log`, each on a fresh store from
/// `$make`, which needs `CaseLog`.
#[macro_export]
macro_rules! case_log_suite {
    ($make:expr) => {
        $crate::__group!(case_log; $make;
            numbers_are_unique_and_increasing,
            concurrent_creates_get_unique_numbers,
            unknown_cases_are_not_found,
            a_created_case_round_trips,
            commits_append_events_and_replay_to_the_state,
            a_stale_version_is_a_conflict_and_changes_nothing,
            concurrent_commits_on_one_version_let_exactly_one_win,
            many_writers_lose_no_update,
            a_commit_is_all_or_nothing,
            misnumbered_events_are_refused,
            idempotent_creates_make_one_case,
        );
    };
}

/// One `#[test]` per behaviour of the directory: people and tokens, in a module `directory`, each on a fresh store from
/// `$make`, which needs `Directory`.
#[macro_export]
macro_rules! directory_suite {
    ($make:expr) => {
        $crate::__group!(directory; $make;
            people_round_trip,
            tokens_are_found_by_hash_and_revoked,
        );
    };
}

/// One `#[test]` per behaviour of knowledge: articles and defects, in a module `knowledge`, each on a fresh store from
/// `$make`, which needs `Knowledge`.
#[macro_export]
macro_rules! knowledge_suite {
    ($make:expr) => {
        $crate::__group!(knowledge; $make;
            articles_and_defects_round_trip,
        );
    };
}

/// One `#[test]` per behaviour of case queries: filters, pages, search, similar cases, in a module `case_queries`, each on a fresh store from
/// `$make`, which needs `CaseLog + Knowledge + CaseQueries`.
#[macro_export]
macro_rules! case_queries_suite {
    ($make:expr) => {
        $crate::__group!(case_queries; $make;
            a_customers_latest_cases_come_newest_first,
            filters_select_the_right_cases,
            lists_filter_by_priority_and_owner_and_walk_every_order,
            pagination_walks_every_case_once,
            pagination_is_stable_under_concurrent_inserts,
            concurrent_creates_are_listed_in_number_order,
            common_words_list_every_match_and_search_the_newest,
            search_ranks_a_fixed_corpus,
            search_honours_kind_and_limit,
            search_finds_the_judged_set,
            hostile_query_syntax_is_text,
            internal_text_is_never_matched_for_a_customer,
            a_customer_list_query_matches_only_visible_text,
            search_reads_a_whole_case_and_follows_its_edits,
            similar_cases_exclude_the_case_and_respect_scope,
            similar_cases_of_an_unknown_case_are_not_found,
            a_failed_commit_indexes_nothing,
        );
    };
}

/// One `#[test]` per behaviour of the reopen report and its drill-down, in a module `reports`, each on a fresh store from
/// `$make`, which needs `CaseLog + Reports`.
#[macro_export]
macro_rules! reports_suite {
    ($make:expr) => {
        $crate::__group!(reports; $make;
            the_reopen_report_matches_the_reference_on_a_fixed_data_set,
            the_reopen_report_honours_its_period,
            the_reopen_report_drills_down_to_cases_and_reasons,
            the_reopen_report_matches_the_reference_over_random_histories,
        );
    };
}

/// One `#[test]` per behaviour of the outbox: queueing, claims, outcomes, in a module `outbox`, each on a fresh store from
/// `$make`, which needs `CaseLog + OutboxQueue`.
#[macro_export]
macro_rules! outbox_suite {
    ($make:expr) => {
        $crate::__group!(outbox; $make;
            emails_are_queued_with_their_commit,
            a_new_case_queues_its_notices_numbered_with_it,
            a_cases_outbox_holds_only_its_messages,
            outbox_claims_are_exclusive_until_their_deadline,
            outbox_outcomes_are_recorded,
            a_failed_commit_queues_nothing,
            a_bounce_marks_a_sent_message_failed,
            staff_retry_and_cancel_only_the_messages_each_applies_to,
            concurrent_cancels_of_one_message_let_exactly_one_through,
        );
    };
}

/// One `#[test]` per behaviour of diagnostics: counts, in a module `diagnostics`, each on a fresh store from
/// `$make`, which needs `CaseLog + Directory + Diagnostics`.
#[macro_export]
macro_rules! diagnostics_suite {
    ($make:expr) => {
        $crate::__group!(diagnostics; $make;
            stats_count_what_is_stored,
            idempotent_creates_leave_no_stray_case,
        );
    };
}

/// One `#[test]` per behaviour of webhooks: deliveries written with their commit for the
/// endpoints that want them, claims in each case's order, exclusive claims, outcomes and
/// redelivery, in a module `webhooks`, each on a fresh store from `$make`.
#[macro_export]
macro_rules! webhooks_suite {
    ($make:expr) => {
        $crate::__group!(webhooks; $make;
            commits_write_the_deliveries_of_the_endpoints_that_want_them,
            claims_keep_each_cases_order_at_each_endpoint,
            claims_are_exclusive_until_their_deadline,
            outcomes_are_recorded_and_redelivery_keeps_the_id,
        );
    };
}

/// One `#[test]` per behaviour of the change feed: positions in commit order, pages,
/// customers, refused commits, concurrent writers, in a module `feed`, each on a fresh store
/// from `$make`, which needs `CaseLog + ChangeFeed`.
#[macro_export]
macro_rules! feed_suite {
    ($make:expr) => {
        $crate::__group!(feed; $make;
            every_committed_event_has_one_position_in_commit_order,
            reading_page_by_page_sees_every_event_once,
            a_customers_read_holds_only_their_cases,
            a_refused_commit_takes_no_position,
            a_consumer_following_concurrent_writers_sees_every_event_once_in_order,
        );
    };
}

/// One `#[test]` per behaviour of sign-in state: passwords, sessions, links, failures, in a
/// module `sessions`, each on a fresh store from `$make`, which needs
/// `CaseLog + Sessions + OutboxQueue + Directory`.
#[macro_export]
macro_rules! sessions_suite {
    ($make:expr) => {
        $crate::__group!(sessions; $make;
            passwords_are_set_and_replaced,
            sessions_are_found_touched_and_ended,
            sign_in_links_work_once_and_expire,
            failures_are_counted_per_key_within_the_window,
            a_session_is_read_with_its_person_as_the_directory_has_them_now,
        );
    };
}

/// One `#[test]` per behaviour of the quarantine: refused inbound messages kept byte for
/// byte (as big as inbound mail may be), listed oldest first without their bytes, kept once
/// per id and removed once, in a module `quarantine`,
/// each on a fresh store from `$make`, which needs `Quarantine`.
#[macro_export]
macro_rules! quarantine_suite {
    ($make:expr) => {
        $crate::__group!(quarantine; $make;
            kept_messages_round_trip_byte_for_byte,
            a_message_as_big_as_inbound_mail_may_be_is_kept_whole,
            the_list_is_oldest_first_and_limited,
            an_id_is_kept_once,
            removing_takes_one_message_once,
        );
    };
}

/// One `#[test]` per behaviour of mailbox positions: saved per mailbox, never back under one
/// UIDVALIDITY, replaced under another, in a module `mailbox`, each on a fresh store from
/// `$make`, which needs `MailboxPositions`.
#[macro_export]
macro_rules! mailbox_suite {
    ($make:expr) => {
        $crate::__group!(mailbox; $make;
            a_position_is_saved_per_mailbox,
            a_position_never_moves_back_under_one_uidvalidity,
            concurrent_saves_end_at_the_highest,
        );
    };
}

/// One `#[test]` per behaviour of attachments: written by their post's commit, all or
/// nothing, kept byte for byte, listed per case, with their post's visibility, in a module
/// `attachments`, each on a fresh store from `$make`, which needs `CaseLog + Attachments`.
#[macro_export]
macro_rules! attachments_suite {
    ($make:expr) => {
        $crate::__group!(attachments; $make;
            files_round_trip_with_their_post_byte_for_byte,
            files_are_listed_per_case_in_entry_order,
            a_file_of_an_internal_post_is_internal,
            a_refused_commit_leaves_no_file,
            files_breaking_the_rules_are_refused_whole,
            a_file_as_big_as_a_message_may_carry_is_kept_whole,
        );
    };
}

/// One `#[test]` per behaviour of a case's surroundings: its messages, files and the
/// directory read together as their own reads give them, in a module `surroundings`, each
/// on a fresh store from `$make`, which needs
/// `CaseLog + OutboxQueue + Attachments + Directory + CaseSurroundings`.
#[macro_export]
macro_rules! surroundings_suite {
    ($make:expr) => {
        $crate::__group!(surroundings; $make;
            a_cases_surroundings_are_what_its_separate_reads_give,
        );
    };
}

/// One `#[test]` per behaviour of the service on the whole store: random commands against a model, in a module `service`, each on a fresh store from
/// `$make`, which needs `CaseStore (every capability)`.
#[macro_export]
macro_rules! service_suite {
    ($make:expr) => {
        $crate::__group!(service; $make;
            random_commands_change_what_an_independent_model_says,
        );
    };
}

/// One `#[test]` per behaviour of inbound email through the service on the whole store:
/// threading, what a reply does, taking a message once, in a module `inbound`, each on a
/// fresh store from `$make`, which needs `CaseStore (every capability)`.
#[macro_export]
macro_rules! inbound_suite {
    ($make:expr) => {
        $crate::__group!(inbound; $make;
            a_new_sender_opens_a_case_once,
            a_reply_threads_onto_its_case_and_reaches_the_customer,
            a_subject_tag_threads_only_for_the_cases_participants,
            a_reply_naming_mail_the_case_received_threads_onto_it,
            a_signed_reply_token_threads_first_and_a_forged_one_does_not,
            a_stale_reply_token_falls_to_the_other_rules,
            strangers_and_machines_stay_internal_and_change_nothing,
            a_reply_to_a_closed_case_reopens_it_or_opens_a_linked_one,
            a_bounce_is_recorded_on_the_case_it_is_about,
            concurrent_deliveries_take_a_message_once,
            a_storm_from_one_sender_is_kept_in_the_quarantine,
            refused_mail_is_kept_then_released_or_dropped,
            a_messages_files_are_kept_with_its_email_and_too_much_is_held_back,
            files_over_the_limits_are_held_back_kept_whole_and_the_sender_told,
            a_batch_is_taken_as_one_message_at_a_time_would_be,
        );
    };
}

/// The module of one group: `use super::*` so `$make` may name what the caller's module
/// sees, then one `#[test]` per behaviour.
#[doc(hidden)]
#[macro_export]
macro_rules! __group {
    ($group:ident; $make:expr; $($name:ident),+ $(,)?) => {
        mod $group {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    $crate::run(async {
                        let store = $make;
                        $crate::behaviours::$group::$name(store).await;
                    });
                }
            )+
        }
    };
}

/// One `#[test]` per behaviour of moving whole stores (listing knowledge, importing cases
/// and articles with their own numbers, the copy itself), in a module `transfer`, each on
/// two fresh stores from `$make` (a source and a target), which needs `TransferStore`
/// (every capability and `StoreTransfer`).
#[macro_export]
macro_rules! transfer_suite {
    ($make:expr) => {
        mod transfer {
            #[allow(unused_imports)]
            use super::*;
            $crate::__transfer!($make;
                imported_cases_keep_their_numbers_histories_and_answers,
                importing_again_changes_nothing_and_catches_up,
                articles_and_defects_list_in_order_and_import_with_their_ids,
                a_copy_moves_everything_and_a_rerun_catches_up,
                an_export_imports_into_an_empty_store_and_exports_the_same,
                an_import_refuses_bad_records_by_name_and_takes_the_rest,
                mail_read_again_after_a_copy_opens_no_case_twice,
                files_are_imported_once_checked_and_never_over_another,
                an_export_written_before_files_travelled_still_imports,
                webhook_endpoints_travel_with_a_copy_and_their_removal_follows,
                the_quarantine_travels_with_a_copy_and_an_export,
            );
        }
    };
}

/// The tests of the `transfer` group: each gets a source and a target.
#[doc(hidden)]
#[macro_export]
macro_rules! __transfer {
    ($make:expr; $($name:ident),+ $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::run(async {
                    let from = $make;
                    let to = $make;
                    $crate::behaviours::transfer::$name(from, to).await;
                });
            }
        )+
    };
}

#[cfg(test)]
mod tests {
    /// Every behaviour of every group file is run by that group's macro, so none is
    /// written and then forgotten.
    #[test]
    fn every_behaviour_is_in_its_groups_macro() {
        let lib = include_str!("lib.rs");
        for (group, source) in [
            ("case_log", include_str!("behaviours/case_log.rs")),
            ("directory", include_str!("behaviours/directory.rs")),
            ("knowledge", include_str!("behaviours/knowledge.rs")),
            ("case_queries", include_str!("behaviours/case_queries.rs")),
            ("reports", include_str!("behaviours/reports.rs")),
            ("sessions", include_str!("behaviours/sessions.rs")),
            ("outbox", include_str!("behaviours/outbox.rs")),
            ("diagnostics", include_str!("behaviours/diagnostics.rs")),
            ("feed", include_str!("behaviours/feed.rs")),
            ("webhooks", include_str!("behaviours/webhooks.rs")),
            ("service", include_str!("behaviours/service.rs")),
            ("transfer", include_str!("behaviours/transfer.rs")),
            ("quarantine", include_str!("behaviours/quarantine.rs")),
            ("inbound", include_str!("behaviours/inbound.rs")),
            ("mailbox", include_str!("behaviours/mailbox.rs")),
            ("attachments", include_str!("behaviours/attachments.rs")),
            ("surroundings", include_str!("behaviours/surroundings.rs")),
        ] {
            let start = lib
                .find(&format!("macro_rules! {group}_suite"))
                .unwrap_or_else(|| panic!("no {group}_suite! macro"));
            let body = &lib[start..];
            let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
            let listed: Vec<&str> = body
                .lines()
                .map(|l| l.trim().trim_end_matches(','))
                .filter(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .collect();
            let written: Vec<&str> = source
                .lines()
                .filter_map(|l| l.strip_prefix("pub async fn "))
                .filter_map(|l| l.split(['<', '(']).next())
                .collect();
            assert_eq!(
                listed, written,
                "{group}: the macro runs every behaviour, in order"
            );
        }
    }
}
