//! Multi-step writes under faults.
