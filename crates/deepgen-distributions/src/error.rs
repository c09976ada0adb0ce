//! The error type of checked constructors and samplers.

/// What went wrong when building or sampling a distribution.
///
/// Every variant names the distribution and the offending argument, so the
/// message alone tells the caller what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistributionError {
    /// An argument's shape does not fit the others.
    #[error("{distribution}: argument `{argument}` has shape {got:?}, expected {expected}")]
    Shape {
        /// Distribution being built, e.g. `"DiagGaussian"`.
        distribution: &'static str,
        /// The argument with the wrong shape.
        argument: &'static str,
        /// Its shape.
        got: Vec<usize>,
        /// What was expected, in words (e.g. "the shape of `mean`, [4, 2]").
        expected: String,
    },
    /// An argument's value lies outside the parameter space.
    #[error("{distribution}: invalid `{argument}`: {reason}")]
    InvalidParameter {
        /// Distribution being built.
        distribution: &'static str,
        /// The offending argument.
        argument: &'static str,
        /// Why it is invalid and, where useful, the first bad value.
        reason: String,
    },
    /// A rejection sampler ran out of rounds before every row accepted.
    #[error(
        "{distribution}: rejection sampler left {pending} of {total} rows unaccepted after \
         {rounds} rounds ({detail}); raise `max_rounds` or check the parameters"
    )]
    RejectionCap {
        /// Distribution being sampled.
        distribution: &'static str,
        /// Rows still without an accepted proposal.
        pending: usize,
        /// Rows requested.
        total: usize,
        /// Rounds tried.
        rounds: usize,
        /// Parameters of the worst row, for the message.
        detail: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, DistributionError>;
