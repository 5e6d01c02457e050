// The `policy:` section, composed into the one config schema (gateway/config/schema.ts); POLICY_*
// variables are laid over the document by gateway/config/environment.ts first.
import { z } from 'zod';
import { duration } from '../../core/duration.js';
import { BUILT_POLICY_BUNDLE } from '../util/package-root.js';
import { DEFAULT_MAX_MEMORY_PAGES } from './manager.js';

export const policyConfigSchema = z.strictObject({
  /** A file path or an http(s) URL. */
  bundle: z.string().min(1).default(BUILT_POLICY_BUNDLE),
  pollIntervalMs: duration(1000).default(30_000),
  pollJitter: z.number().min(0).max(1).default(0.1),
  /** PEM public key; bundles must then be signed by it. Usually from POLICY_VERIFICATION_KEY. */
  verificationKey: z
    .string()
    .refine((s) => s.includes('-----BEGIN'), 'must be a PEM public key')
    .optional(),
  /** 64 KiB pages; an instance that grew past it is replaced. */
  maxMemoryPages: z.number().int().min(8).max(65_536).default(DEFAULT_MAX_MEMORY_PAGES),
  /** Decisions remembered by exact input (only for a bundle whose decisions depend on nothing else). */
  decisionCache: z
    .strictObject({
      maxEntries: z.number().int().min(0).max(1_000_000).default(10_000),
    })
    .prefault({}),
  decisionLog: z
    .strictObject({
      enabled: z.boolean().default(false),
      sampleRate: z.number().min(0).max(1).default(1),
    })
    .prefault({}),
});

export type PolicyConfig = z.infer<typeof policyConfigSchema>;
