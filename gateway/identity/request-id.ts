import { randomUUID } from 'node:crypto';

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** Keeps a well-formed incoming x-request-id (so traces join up across hops), else makes a new one. */
export function requestIdFor(incoming: string | string[] | undefined): string {
  if (typeof incoming === 'string' && WELL_FORMED.test(incoming)) return incoming;
  return randomUUID();
}
