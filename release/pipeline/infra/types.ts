/** One host-readiness check: what was found, what is wanted, and the fix when they differ. */
export interface InfraCheck {
  readonly name: string;
  readonly ok: boolean;
  /** null: not applicable here (counted as neither pass nor fail). */
  readonly skipped?: boolean;
  readonly measured: string | number | null;
  /** Shown after a numeric measurement (' GB'); the run log keeps the bare number. */
  readonly unit?: string;
  readonly wanted: string;
  /** For a failure: the command or change that fixes it. */
  readonly fix?: string;
}

export const HOST_SCRIPTS = 'docker/host';
