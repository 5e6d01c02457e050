// Reads from each replica's admin plane: services and weights, the policy state, /metrics.
import { adminRequest } from '../../cli/rollout.js';
import type { ServiceRoute } from './context.js';
import { describeError, http } from './http.js';
import { parseMetrics, type Sample } from './metrics-text.js';

export interface AdminService {
  readonly name: string;
  readonly prefix: string;
  readonly weights: { readonly blue: number; readonly green: number };
  readonly stable: string;
}

export async function listServices(adminUrl: string, token: string | undefined): Promise<AdminService[]> {
  const body = (await adminRequest(adminUrl, token, 'GET', '/admin/services')) as {
    services: AdminService[];
  };
  return body.services;
}

export async function policyRevision(adminUrl: string, token: string | undefined): Promise<string | null> {
  const body = (await adminRequest(adminUrl, token, 'GET', '/admin/policy')) as { revision?: string | null };
  return body.revision ?? null;
}

export async function scrape(
  adminUrl: string,
  token: string | undefined,
  signal?: AbortSignal,
): Promise<Sample[]> {
  const result = await http(`${adminUrl}/metrics`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    timeoutMs: 10_000,
    signal,
  });
  if (result.status !== 200) {
    const hint =
      result.status === 401 || result.status === 403 ? ': is ADMIN_TOKEN set to an admin token?' : '';
    throw new Error(`GET /metrics answered ${result.status}${hint}`);
  }
  return parseMetrics(result.text);
}

/** Why the snapshot of one admin plane is missing, for a check's message. */
export function scrapeProblem(snap: Snapshot | null, admin: string): string {
  const value = snap?.byAdmin.get(admin);
  return value instanceof Error ? `${admin} (${describeError(value)})` : admin;
}

/** A scrape of every admin plane, taken with the time it was taken (for rates). */
export interface Snapshot {
  readonly at: number;
  readonly byAdmin: ReadonlyMap<string, Sample[] | Error>;
}

export async function snapshot(adminUrls: readonly string[], token: string | undefined): Promise<Snapshot> {
  const byAdmin = new Map<string, Sample[] | Error>();
  await Promise.all(
    adminUrls.map(async (url) => {
      // Three tries: one slow or refused scrape on a busy replica should not lose the run's deltas.
      for (let attempt = 1; ; attempt++) {
        try {
          byAdmin.set(url, await scrape(url, token));
          return;
        } catch (error) {
          if (attempt >= 3) {
            byAdmin.set(url, error as Error);
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
        }
      }
    }),
  );
  return { at: Date.now(), byAdmin };
}

export function toRoutes(services: readonly AdminService[]): ServiceRoute[] {
  return services.map((s) => ({ name: s.name, prefix: s.prefix }));
}
