import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { type Color, otherColor } from '../core/types.js';
import { type ServiceWeights, StaleFenceError, type WeightStore } from '../core/weight-store.js';
import { analyse } from './analysis.js';
import type { AnalysisRecord, Rollout, RolloutStateName, StepDecision, Transition } from './controller.js';
import * as controller from './controller.js';
import {
  RolloutConflictError,
  RolloutError,
  RolloutNotFoundError,
  RolloutStateUnavailableError,
} from './errors.js';
import type { Leadership } from './leader.js';
import { RolloutMetrics } from './metrics.js';
import { DEFAULT_PARAMS, type RolloutParams, resolveParams } from './params.js';
import type { RolloutStore } from './rollout-store.js';
import type { WindowSummary } from './window-counts.js';
import type { WindowSource } from './window-source.js';

export interface TransitionEvent {
  readonly service: string;
  readonly rolloutId: string;
  readonly transition: Transition;
  /** The rollout after the transition. */
  readonly rollout: Rollout;
}

export interface RolloutManagerOptions {
  readonly services: readonly string[];
  readonly weights: WeightStore;
  readonly store: RolloutStore;
  readonly windows: WindowSource;
  readonly leadership: Leadership;
  /** What a start request's missing fields fall back to (config.ts defaultParams). */
  readonly defaults?: RolloutParams;
  readonly now?: () => number;
  /** Period of the controller loop of `run()`. */
  readonly tickMs?: number;
  /** The longest window an analysis or a status reads (the live windows' ring length). */
  readonly windowSeconds?: number;
  readonly registry?: Registry;
  /** Every transition, for the audit log. Awaited; a throw is passed to onError, never fails the action. */
  readonly onTransition?: (event: TransitionEvent) => void | Promise<void>;
  /** Failures of the background loop (Redis unreachable, ...) for the log. */
  readonly onError?: (error: unknown, service?: string) => void;
}

export interface RolloutStatus {
  readonly service: string;
  /** 'idle' when the service never had a rollout; a finished one keeps its final state. */
  readonly state: RolloutStateName;
  readonly active: boolean;
  readonly rolloutId: string | null;
  readonly candidate: Color;
  readonly stable: Color;
  /** The split the routers use now. */
  readonly weights: ServiceWeights;
  /**
   * Whether the split the rollout's last transition asked for has reached the weight store. State is
   * persisted before the weights are written, so right after a transition (or while no leader runs) this
   * is briefly false and `weights` still shows the previous split. True when idle.
   */
  readonly applied: boolean;
  /** Candidate share the rollout holds (0 when idle). */
  readonly weight: number;
  readonly steps: readonly number[];
  /** 1-based current step, 0 when idle. */
  readonly step: number;
  readonly params: RolloutParams | null;
  readonly reason: string | null;
  readonly startedAt: number | null;
  readonly endedAt: number | null;
  readonly nextAnalysisAt: number | null;
  readonly nextAnalysisInMs: number | null;
  readonly consecutiveFailures: number;
  readonly consecutiveInconclusive: number;
  /** Newest first. */
  readonly analyses: readonly AnalysisRecord[];
  /** Oldest first. */
  readonly history: readonly Transition[];
  /** Live windows over the current step (at most one interval), or the last 30 s without a rollout. */
  readonly windows: {
    readonly seconds: number;
    readonly candidate: WindowSummary;
    readonly stable: WindowSummary;
  };
}

const CAS_RETRIES = 5;
const IDLE_WINDOW_SECONDS = 30;

/**
 * Runs the rollouts: operator actions on any replica (state compare-and-set in the store), and on the
 * leader a loop that analyses due steps and writes weights with its fencing token. State is persisted
 * before the weights are written (with applied=false), so a leader that dies in between leaves the write
 * for the next leader's tick instead of losing it.
 */
export class RolloutManager {
  readonly #o: RolloutManagerOptions;
  readonly #services: Set<string>;
  readonly #defaults: RolloutParams;
  readonly #now: () => number;
  readonly #metrics: RolloutMetrics;
  readonly #windowSeconds: number;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | null = null;

  constructor(options: RolloutManagerOptions) {
    this.#o = options;
    this.#services = new Set(options.services);
    this.#defaults = options.defaults ?? DEFAULT_PARAMS;
    this.#now = options.now ?? Date.now;
    this.#windowSeconds = options.windowSeconds ?? 120;
    this.#metrics = new RolloutMetrics(options.registry ?? new Registry());
    this.#metrics.initialise(this.#services);
    for (const service of this.#services) this.#metrics.observe(service, 'idle', 0, 0);
  }

  /** Starts the controller loop (every replica runs it; only the leader acts). */
  run(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.#o.tickMs ?? 250);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#ticking;
  }

  async start(service: string, body: unknown, actor: string, reason?: string): Promise<RolloutStatus> {
    this.#known(service);
    const params = resolveParams(body, this.#defaults);
    const previous = await this.#o.store.get(service);
    const decision = controller.start({
      id: randomUUID(),
      service,
      params,
      current: this.#o.weights.get(service),
      actor,
      reason,
      now: this.#now(),
      previous,
    });
    if (!(await this.#o.store.compareAndSet(service, previous?.version ?? null, decision.rollout))) {
      throw new RolloutConflictError(`the rollout of ${service} changed concurrently; try again`);
    }
    await this.#after(service, decision);
    return this.status(service);
  }

  pause(service: string, actor: string, reason?: string): Promise<RolloutStatus> {
    return this.#act(service, (r, now) => controller.pause(r, actor, reason, now));
  }

  resume(service: string, actor: string, reason?: string): Promise<RolloutStatus> {
    return this.#act(service, (r, now) => controller.resume(r, actor, reason, now));
  }

  promote(service: string, actor: string, reason?: string): Promise<RolloutStatus> {
    return this.#act(service, (r, now) => controller.promote(r, actor, reason, now));
  }

  abort(service: string, actor: string, reason?: string): Promise<RolloutStatus> {
    return this.#act(service, (r, now) => controller.abort(r, actor, reason, now));
  }

  /** For the weights route: a manual split change is refused (409) while this is true. */
  async isRolloutActive(service: string): Promise<boolean> {
    const rollout = await this.#o.store.get(service);
    return rollout !== null && controller.isActive(rollout.state);
  }

  async status(service: string): Promise<RolloutStatus> {
    this.#known(service);
    const now = this.#now();
    const r = await sharedState(this.#o.store.get(service));
    const weights = this.#o.weights.get(service);
    const stable = r ? r.stable : weights.stable;
    const candidate = r ? r.candidate : otherColor(weights.stable);
    const active = r !== null && controller.isActive(r.state);
    const seconds = Math.min(
      this.#windowSeconds,
      active ? controller.windowBuckets(controller.analysisWindowMs(r, now), now) : IDLE_WINDOW_SECONDS,
    );
    const [candidateWindow, stableWindow] = await sharedState(
      Promise.all([
        this.#o.windows.read(service, candidate, seconds, now),
        this.#o.windows.read(service, stable, seconds, now),
      ]),
    );
    return {
      service,
      state: r?.state ?? 'idle',
      active,
      rolloutId: r?.id ?? null,
      candidate,
      stable,
      weights,
      applied: r?.applied ?? true,
      weight: r?.weight ?? 0,
      steps: r?.params.steps ?? this.#defaults.steps,
      step: r ? r.stepIndex + 1 : 0,
      params: r?.params ?? null,
      reason: r?.reason ?? null,
      startedAt: r?.startedAt ?? null,
      endedAt: r?.endedAt ?? null,
      nextAnalysisAt: r?.nextAnalysisAt ?? null,
      nextAnalysisInMs: r?.nextAnalysisAt == null ? null : Math.max(0, r.nextAnalysisAt - now),
      consecutiveFailures: r?.consecutiveFailures ?? 0,
      consecutiveInconclusive: r?.consecutiveInconclusive ?? 0,
      analyses: r ? [...r.analyses].reverse().slice(0, 10) : [],
      history: r?.history ?? [],
      windows: { seconds, candidate: candidateWindow, stable: stableWindow },
    };
  }

  /** One controller round over every service. Safe to call concurrently (rounds do not overlap). */
  tick(): Promise<void> {
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    for (const service of this.#services) {
      try {
        await this.#tickService(service);
      } catch (error) {
        this.#o.onError?.(error, service);
      }
    }
  }

  async #tickService(service: string): Promise<void> {
    const r = await this.#o.store.get(service);
    this.#observe(service, r);
    if (!r || !this.#o.leadership.isLeader()) return;
    if (!r.applied) await this.#apply(service, r);
    const now = this.#now();
    if (!controller.isDue(r, now)) return;
    const seconds = Math.min(
      this.#windowSeconds,
      controller.windowBuckets(controller.analysisWindowMs(r, now), now),
    );
    const [candidate, stable] = await Promise.all([
      this.#o.windows.read(service, r.candidate, seconds, now),
      this.#o.windows.read(service, r.stable, seconds, now),
    ]);
    const current = (await this.#o.store.get(service)) ?? r;
    if (current.version !== r.version && !controller.isDue(current, now)) return;
    const decision = controller.applyAnalysis(current, analyse(candidate, stable, r.params.thresholds), now);
    // Someone (an operator, another leader) changed it meanwhile: drop this analysis, the next tick redoes it.
    if (!(await this.#o.store.compareAndSet(service, current.version, decision.rollout))) return;
    if (decision.analysis) this.#metrics.analysed(service, decision.analysis.outcome);
    if (decision.rollout.state === 'rolled_back') this.#metrics.rolledBack(service);
    await this.#after(service, decision);
  }

  async #act(service: string, action: (r: Rollout, now: number) => StepDecision): Promise<RolloutStatus> {
    this.#known(service);
    for (let attempt = 0; attempt < CAS_RETRIES; attempt++) {
      const r = await this.#o.store.get(service);
      if (!r) throw new RolloutConflictError(`no rollout has been started on ${service}`);
      const decision = action(r, this.#now());
      if (await this.#o.store.compareAndSet(service, r.version, decision.rollout)) {
        await this.#after(service, decision);
        return this.status(service);
      }
    }
    throw new RolloutConflictError(`the rollout of ${service} keeps changing; try again`);
  }

  /** After a decision was persisted: audit, metrics, and the weight write when this replica leads. */
  async #after(service: string, decision: StepDecision): Promise<void> {
    const { rollout } = decision;
    this.#observe(service, rollout);
    for (const transition of decision.transitions) {
      try {
        await this.#o.onTransition?.({ service, rolloutId: rollout.id, transition, rollout });
      } catch (error) {
        this.#o.onError?.(error, service);
      }
    }
    if (!rollout.applied && this.#o.leadership.isLeader()) {
      try {
        await this.#apply(service, rollout);
      } catch (error) {
        // Persisted with applied=false: the leader's next tick writes it.
        this.#o.onError?.(error, service);
      }
    }
  }

  /** Writes the rollout's desired split with the leader's fence, then records that it was written. */
  async #apply(service: string, r: Rollout): Promise<void> {
    const fence = this.#o.leadership.fence();
    try {
      await this.#o.weights.set(service, r.desired, fence ?? undefined);
    } catch (error) {
      if (error instanceof StaleFenceError) return; // deposed: the new leader writes it
      throw error;
    }
    // A failed compare-and-set here only means the next tick writes the same split again.
    await this.#o.store.compareAndSet(service, r.version, controller.markApplied(r));
  }

  #observe(service: string, r: Rollout | null): void {
    if (!r) this.#metrics.observe(service, 'idle', 0, 0);
    else
      this.#metrics.observe(service, r.state, controller.isActive(r.state) ? r.stepIndex + 1 : 0, r.weight);
  }

  #known(service: string): void {
    if (!this.#services.has(service)) throw new RolloutNotFoundError(`no service named ${service}`);
  }
}

/** Reads the shared state; a failure to read it (Redis down) is the domain's "unavailable", not a bug. */
async function sharedState<T>(read: Promise<T>): Promise<T> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof RolloutError) throw error;
    throw new RolloutStateUnavailableError('the shared rollout state cannot be read right now');
  }
}
