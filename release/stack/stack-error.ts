/** A stack operation failed; the message names the part (`nginx`, `gateway-2`, `redis`, ...) and why. */
export class StackError extends Error {
  constructor(
    message: string,
    /** The component that failed, when one did. */
    readonly component?: string,
  ) {
    super(message);
    this.name = 'StackError';
  }
}
