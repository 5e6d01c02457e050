import { randomHexId } from '../util/random-pool.js';

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Keeps a well-formed incoming x-request-id (so traces join up across hops), else makes a new one in the
 * shape nginx gives its $request_id (32 hex digits), so an id looks the same with or without nginx in front.
 */
export function requestIdFor(incoming: string | string[] | undefined): string {
  if (typeof incoming === 'string' && WELL_FORMED.test(incoming)) return incoming;
  return randomHexId();
}
