import { type Color, otherColor } from '../core/types.js';
import type { ServiceWeights } from '../core/weight-store.js';
import type { Analysis } from './analysis.js';
import { RolloutConflictError } from './errors.js';
import type { RolloutParams } from './params.js';

// The rollout state machine, pure: every function takes the rollout and the time, and returns the next
// rollout plus what changed. It never does I/O; the manager persists the result and writes the weights.
//
//   idle ─start─► progressing ─pass (last step)/promote─► promoted
//                  │  ▲    │ ─failureLimit fails─► rolled_back
//        pause /   │  │    └─abort─► aborted
//   inconclusive   ▼  │ resume
//   limit        paused ─promote/abort─► promoted/aborted
//
// "idle" is the absence of a running rollout: none ever, or the last one ended.

export type RolloutPhase = 'progressing' | 'paused' | 'promoted' | 'rolled_back' | 'aborted';
export type RolloutStateName = 'idle' | RolloutPhase;
export const ROLLOUT_STATES: readonly RolloutStateName[] = [
  'idle',
  'progressing',
  'paused',
  'promoted',
  'rolled_back',
  'aborted',
];

export function isActive(state: RolloutStateName): state is 'progressing' | 'paused' {
  return state === 'progressing' || state === 'paused';
}

/** One entry of a rollout's history; the audit log gets the same. */
export interface Transition {
  readonly at: number;
  readonly from: RolloutStateName;
  readonly to: RolloutStateName;
  readonly actor: string;
  readonly reason: string;
  /** Candidate weight after the transition. */
  readonly weight: number;
}

export interface AnalysisRecord extends Analysis {
  readonly at: number;
  /** Index into params.steps of the step that was analysed. */
  readonly step: number;
  readonly weight: number;
}

/** The split the rollout wants the weight store to hold. */
export interface DesiredWeights {
  readonly green: number;
  readonly stable: Color;
}

export interface Rollout {
  readonly id: string;
  readonly service: string;
  /** The colour being released. */
  readonly candidate: Color;
  /** The baseline when the rollout started. */
  readonly stable: Color;
  readonly params: RolloutParams;
  readonly state: RolloutPhase;
  readonly stepIndex: number;
  /** The candidate's current share, 0..100. */
  readonly weight: number;
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly stepStartedAt: number;
  /** When the current step is analysed; null while paused or ended. */
  readonly nextAnalysisAt: number | null;
  readonly consecutiveFailures: number;
  readonly consecutiveInconclusive: number;
  /** Why the rollout is in its state (the last transition's reason). */
  readonly reason: string;
  /** Newest last, at most MAX_ANALYSES. */
  readonly analyses: readonly AnalysisRecord[];
  /** Oldest first, at most MAX_HISTORY. */
  readonly history: readonly Transition[];
  readonly desired: DesiredWeights;
  /**
   * Whether `desired` reached the weight store. Persisted as false before the write and true after, so a
   * leader that dies in between leaves the write for its successor instead of losing it.
   */
  readonly applied: boolean;
  /** Bumped on every change; the stores compare it so two writers cannot both win. */
  readonly version: number;
}

export interface StepDecision {
  readonly rollout: Rollout;
  readonly transitions: readonly Transition[];
  /** Present when the split must change. */
  readonly write: DesiredWeights | null;
  readonly analysis: AnalysisRecord | null;
}

export const MAX_ANALYSES = 50;
export const MAX_HISTORY = 200;

const conflict = (message: string) => new RolloutConflictError(message);

function greenFor(candidate: Color, candidateWeight: number): number {
  return candidate === 'green' ? candidateWeight : 100 - candidateWeight;
}

export interface StartInput {
  readonly id: string;
  readonly service: string;
  readonly params: RolloutParams;
  /** The split now; its stable colour stays the baseline and the other colour is released. */
  readonly current: ServiceWeights;
  readonly actor: string;
  readonly reason?: string | undefined;
  readonly now: number;
  /** The service's previous rollout, if any: refused while it is still running. */
  readonly previous?: Rollout | null | undefined;
}

export function start(input: StartInput): StepDecision {
  const { id, service, params, current, actor, now, previous } = input;
  if (previous && isActive(previous.state)) {
    throw conflict(
      `a rollout of ${service} is already ${previous.state} (started ${new Date(previous.startedAt).toISOString()})`,
    );
  }
  const candidate = otherColor(current.stable);
  const weight = params.steps[0]!;
  const reason = input.reason ?? `started: ${candidate} through ${params.steps.join(' → ')} %`;
  const transition: Transition = { at: now, from: 'idle', to: 'progressing', actor, reason, weight };
  const desired = { green: greenFor(candidate, weight), stable: current.stable };
  const rollout: Rollout = {
    id,
    service,
    candidate,
    stable: current.stable,
    params,
    state: 'progressing',
    stepIndex: 0,
    weight,
    startedAt: now,
    endedAt: null,
    stepStartedAt: now,
    nextAnalysisAt: now + params.intervalMs,
    consecutiveFailures: 0,
    consecutiveInconclusive: 0,
    reason,
    analyses: [],
    history: [transition],
    desired,
    applied: false,
    version: (previous?.version ?? 0) + 1,
  };
  return { rollout, transitions: [transition], write: desired, analysis: null };
}

/** Whether the current step's interval is over and the candidate must be analysed. */
export function isDue(rollout: Rollout, now: number): boolean {
  return rollout.state === 'progressing' && rollout.nextAnalysisAt !== null && now >= rollout.nextAnalysisAt;
}

/** How much of the past the analysis should read: the current step only, at most one interval. */
export function analysisWindowMs(rollout: Rollout, now: number): number {
  return Math.max(1000, Math.min(rollout.params.intervalMs, now - rollout.stepStartedAt));
}

/**
 * How many per-second window buckets (ending with the current, partial one) cover the last `windowMs`
 * up to `now`. Not ceil(windowMs / 1000): a window rarely starts on a second boundary, so it overlaps
 * one bucket more than that. Reading one too few would drop up to a whole second of the interval (with a
 * 1 s interval the analysis saw 0-100 % of it, at random). The oldest bucket may hold up to a second of
 * traffic from just before the window (the previous step of the same candidate), the smaller error.
 */
export function windowBuckets(windowMs: number, now: number): number {
  return Math.floor(now / 1000) - Math.floor((now - windowMs) / 1000) + 1;
}

interface Change {
  readonly state: RolloutPhase;
  readonly weight: number;
  readonly stable: Color;
  readonly actor: string;
  readonly reason: string;
}

/** Moves to a new state and/or weight, recording the transition and the write it needs. */
function transit(rollout: Rollout, change: Change, now: number, patch: Partial<Rollout> = {}): StepDecision {
  const ended = !isActive(change.state);
  const transition: Transition = {
    at: now,
    from: rollout.state,
    to: change.state,
    actor: change.actor,
    reason: change.reason,
    weight: change.weight,
  };
  const desired = { green: greenFor(rollout.candidate, change.weight), stable: change.stable };
  const writes = desired.green !== rollout.desired.green || desired.stable !== rollout.desired.stable;
  const next: Rollout = {
    ...rollout,
    nextAnalysisAt: ended ? null : rollout.nextAnalysisAt,
    ...patch,
    state: change.state,
    weight: change.weight,
    endedAt: ended ? now : null,
    reason: change.reason,
    history: [...rollout.history, transition].slice(-MAX_HISTORY),
    desired,
    applied: writes ? false : rollout.applied,
    version: rollout.version + 1,
  };
  return { rollout: next, transitions: [transition], write: writes ? desired : null, analysis: null };
}

/**
 * Applies the analysis of the current step. Pass advances (or promotes after the last step); fail holds
 * the step until `failureLimit` consecutive fails roll back; inconclusive holds the step, and after more
 * than `maxInconclusive` in a row pauses: advancing blind would be unsafe, and rolling back a release
 * nobody has used would punish quiet hours, so an operator decides (resume, promote or abort).
 */
export function applyAnalysis(rollout: Rollout, analysis: Analysis, now: number): StepDecision {
  if (rollout.state !== 'progressing') throw conflict(`cannot analyse a ${rollout.state} rollout`);
  const record: AnalysisRecord = { ...analysis, at: now, step: rollout.stepIndex, weight: rollout.weight };
  const analysed: Rollout = { ...rollout, analyses: [...rollout.analyses, record].slice(-MAX_ANALYSES) };
  const { params } = rollout;
  const numbers = analysis.reasons.join('; ');
  const system = 'controller';
  let decision: StepDecision;

  if (analysis.outcome === 'pass') {
    const last = rollout.stepIndex === params.steps.length - 1;
    if (last) {
      decision = transit(
        analysed,
        {
          state: 'promoted',
          weight: 100,
          stable: rollout.candidate,
          actor: system,
          reason: `all ${params.steps.length} steps passed: ${rollout.candidate} is now stable`,
        },
        now,
      );
    } else {
      const weight = params.steps[rollout.stepIndex + 1]!;
      decision = transit(
        analysed,
        {
          state: 'progressing',
          weight,
          stable: rollout.stable,
          actor: system,
          reason: `analysis passed at ${rollout.weight}%: advancing to ${weight}%`,
        },
        now,
        {
          stepIndex: rollout.stepIndex + 1,
          stepStartedAt: now,
          nextAnalysisAt: now + params.intervalMs,
          consecutiveFailures: 0,
          consecutiveInconclusive: 0,
        },
      );
    }
  } else if (analysis.outcome === 'fail') {
    const failures = rollout.consecutiveFailures + 1;
    if (failures >= params.failureLimit) {
      decision = transit(
        analysed,
        {
          state: 'rolled_back',
          weight: 0,
          stable: rollout.stable,
          actor: system,
          reason: `${failures} failed ${failures > 1 ? 'analyses' : 'analysis'} at ${rollout.weight}%: ${numbers}`,
        },
        now,
        { consecutiveFailures: failures, consecutiveInconclusive: 0 },
      );
    } else {
      decision = hold(analysed, now, { consecutiveFailures: failures, consecutiveInconclusive: 0 });
    }
  } else {
    const inconclusive = rollout.consecutiveInconclusive + 1;
    if (inconclusive > params.maxInconclusive) {
      decision = transit(
        analysed,
        {
          state: 'paused',
          weight: rollout.weight,
          stable: rollout.stable,
          actor: system,
          reason: `${inconclusive} inconclusive analyses in a row at ${rollout.weight}% (${numbers}): paused for an operator`,
        },
        now,
        { consecutiveInconclusive: inconclusive, nextAnalysisAt: null },
      );
    } else {
      decision = hold(analysed, now, { consecutiveInconclusive: inconclusive });
    }
  }
  return { ...decision, analysis: record };
}

/** Stays on the step for another interval; not a transition, only the analysis is recorded. */
function hold(rollout: Rollout, now: number, patch: Partial<Rollout>): StepDecision {
  const next: Rollout = {
    ...rollout,
    ...patch,
    nextAnalysisAt: now + rollout.params.intervalMs,
    version: rollout.version + 1,
  };
  return { rollout: next, transitions: [], write: null, analysis: null };
}

function mustBeActive(rollout: Rollout, action: string): void {
  if (!isActive(rollout.state)) {
    throw conflict(
      `cannot ${action}: the rollout of ${rollout.service} has already ended (${rollout.state})`,
    );
  }
}

export function pause(
  rollout: Rollout,
  actor: string,
  reason: string | undefined,
  now: number,
): StepDecision {
  mustBeActive(rollout, 'pause');
  if (rollout.state === 'paused') throw conflict(`the rollout of ${rollout.service} is already paused`);
  return transit(
    rollout,
    {
      state: 'paused',
      weight: rollout.weight,
      stable: rollout.stable,
      actor,
      reason: reason ?? `paused at ${rollout.weight}%`,
    },
    now,
    { nextAnalysisAt: null },
  );
}

/** Restarts the step's interval, so the next analysis judges traffic from after the resume. */
export function resume(
  rollout: Rollout,
  actor: string,
  reason: string | undefined,
  now: number,
): StepDecision {
  mustBeActive(rollout, 'resume');
  if (rollout.state !== 'paused') throw conflict(`the rollout of ${rollout.service} is not paused`);
  return transit(
    rollout,
    {
      state: 'progressing',
      weight: rollout.weight,
      stable: rollout.stable,
      actor,
      reason: reason ?? `resumed at ${rollout.weight}%`,
    },
    now,
    {
      stepStartedAt: now,
      nextAnalysisAt: now + rollout.params.intervalMs,
      consecutiveFailures: 0,
      consecutiveInconclusive: 0,
    },
  );
}

export function promote(
  rollout: Rollout,
  actor: string,
  reason: string | undefined,
  now: number,
): StepDecision {
  mustBeActive(rollout, 'promote');
  return transit(
    rollout,
    {
      state: 'promoted',
      weight: 100,
      stable: rollout.candidate,
      actor,
      reason: reason ?? `promoted by hand at ${rollout.weight}%: ${rollout.candidate} is now stable`,
    },
    now,
  );
}

export function abort(
  rollout: Rollout,
  actor: string,
  reason: string | undefined,
  now: number,
): StepDecision {
  mustBeActive(rollout, 'abort');
  return transit(
    rollout,
    {
      state: 'aborted',
      weight: 0,
      stable: rollout.stable,
      actor,
      reason: reason ?? `aborted at ${rollout.weight}%`,
    },
    now,
  );
}

/** Marks `desired` as written to the weight store (no transition, version bumped). */
export function markApplied(rollout: Rollout): Rollout {
  return { ...rollout, applied: true, version: rollout.version + 1 };
}
