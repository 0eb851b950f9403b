//! Route and fragment tests of the UI over a real tracker (no network).
