//! Alert intake: webhook bodies from each monitoring system, normalised into [`Alert`]s.
