// The rollout domain's own errors. The state machine, the manager and the parameter parser throw these;
// only the admin plane (gateway/admin/admin-errors.ts) decides which HTTP status each one means.

/** Base class, so the HTTP edge can tell a domain refusal from a bug. */
export class RolloutError extends Error {}

/** The action does not fit the rollout's current state, or the state changed under us. */
export class RolloutConflictError extends RolloutError {
  override readonly name = 'RolloutConflictError';
}

/** No such service (or no rollout on it, where one is required). */
export class RolloutNotFoundError extends RolloutError {
  override readonly name = 'RolloutNotFoundError';
}

/** Rollout parameters that cannot be used; the message names every bad field. */
export class InvalidRolloutParamsError extends RolloutError {
  override readonly name = 'InvalidRolloutParamsError';
}

/** The shared rollout state (Redis) cannot be read right now; worth retrying in a second. */
export class RolloutStateUnavailableError extends RolloutError {
  override readonly name = 'RolloutStateUnavailableError';
}
