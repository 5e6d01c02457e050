import type { RequestContext, Stage } from '../../core/types.js';
import type { WeightStore } from '../../core/weight-store.js';
import type { ResolvedConfig } from '../config/load.js';
import { bucketOf, isGreenBucket } from './sticky.js';
import { newStickyId, readCookie, stickySetCookie } from './sticky-cookie.js';

/**
 * The blue/green split, after the policy: the override header counts only when the policy allowed it;
 * otherwise the user's stable key (the verified `sub`, else the sticky cookie, set here on first sight,
 * else the client address) is hashed into one of 10 000 buckets, green while the bucket is below
 * `green × 100`, so raising the weight only ever moves users from blue to green.
 */
export function createSplitStage(
  weights: WeightStore,
  cookie: ResolvedConfig['server']['stickyCookie'],
): Stage {
  return {
    name: 'split',
    run(ctx: RequestContext) {
      if (ctx.colorOverride !== null && ctx.overrideAllowed) {
        ctx.color = ctx.colorOverride;
        return;
      }
      const green = weights.get(ctx.service!).green;
      if (green <= 0) {
        ctx.color = 'blue';
        return;
      }
      if (green >= 100) {
        ctx.color = 'green';
        return;
      }
      let key = typeof ctx.claims?.sub === 'string' && ctx.claims.sub !== '' ? ctx.claims.sub : null;
      if (key === null && cookie.enabled) {
        key = readCookie(flat(ctx.headers.cookie), cookie.name);
        if (key === null) {
          key = newStickyId();
          ctx.responseHeaders.push('set-cookie', stickySetCookie(cookie.name, key, cookie.maxAgeSec));
        }
      }
      ctx.color = isGreenBucket(bucketOf(key ?? ctx.clientIp), green) ? 'green' : 'blue';
    },
  };
}

function flat(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join('; ') : value;
}
