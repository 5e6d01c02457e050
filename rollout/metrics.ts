import { Counter, Gauge, type Registry } from 'prom-client';
import type { AnalysisOutcome } from './analysis.js';
import { ROLLOUT_STATES, type RolloutStateName } from './controller.js';

/** The rollout series of /metrics. Label sets stay small: service × (state | outcome). */
export class RolloutMetrics {
  readonly #state: Gauge<'service' | 'state'>;
  readonly #step: Gauge<'service'>;
  readonly #weight: Gauge<'service'>;
  readonly #analyses: Counter<'service' | 'outcome'>;
  readonly #rolledBack: Counter<'service'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#state = new Gauge({
      name: 'acgs_rollout_state',
      help: 'Rollout state per service: 1 for the current state, 0 for the others',
      labelNames: ['service', 'state'],
      registers,
    });
    this.#step = new Gauge({
      name: 'acgs_rollout_step',
      help: 'Current rollout step per service, 1-based; 0 when no rollout runs',
      labelNames: ['service'],
      registers,
    });
    this.#weight = new Gauge({
      name: 'acgs_rollout_candidate_weight',
      help: "The rolling-out colour's share of traffic in percent",
      labelNames: ['service'],
      registers,
    });
    this.#analyses = new Counter({
      name: 'acgs_rollout_analyses_total',
      help: 'Rollout analyses by outcome (pass, fail, inconclusive)',
      labelNames: ['service', 'outcome'],
      registers,
    });
    this.#rolledBack = new Counter({
      name: 'acgs_rollouts_rolled_back_total',
      help: 'Rollouts the controller rolled back',
      labelNames: ['service'],
      registers,
    });
  }

  observe(service: string, state: RolloutStateName, step: number, weight: number): void {
    for (const name of ROLLOUT_STATES) this.#state.set({ service, state: name }, name === state ? 1 : 0);
    this.#step.set({ service }, step);
    this.#weight.set({ service }, weight);
  }

  analysed(service: string, outcome: AnalysisOutcome): void {
    this.#analyses.inc({ service, outcome });
  }

  /** Starts the counters at 0, so `increase()` sees a service's first rollback (a series born at 1 has none). */
  initialise(services: Iterable<string>): void {
    for (const service of services) {
      this.#rolledBack.inc({ service }, 0);
      for (const outcome of ['pass', 'fail', 'inconclusive'] as const)
        this.#analyses.inc({ service, outcome }, 0);
    }
  }

  rolledBack(service: string): void {
    this.#rolledBack.inc({ service });
  }
}
