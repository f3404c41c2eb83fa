//! In-process tests of the desk and the portal.
