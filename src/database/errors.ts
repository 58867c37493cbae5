/**
 * A per-preview database could not be made, reset or dropped. `transient`: the provider
 * or the network failed for a passing reason (a 5xx, a reset connection): the run is
 * retried like a transient flyctl failure. Otherwise `reason` is shown on the check run
 * as it is: the provider's own message and what the user or operator can do about it.
 * Never a connection URL or a password in either.
 */
export class DatabaseError extends Error {
  constructor(
    readonly reason: string,
    readonly transient: boolean,
  ) {
    super(reason);
  }
}
