// Package archtest holds tests about the code base itself: the import
// layering of STYLE section 3 (cmd → server → {auth, ingest, api, admin} →
// {olap, stream} → config; httpx a leaf), enforced by a test so that a
// change crossing a boundary fails the build's tests, not a review.
//
// It has no code; nothing imports it.
package archtest
