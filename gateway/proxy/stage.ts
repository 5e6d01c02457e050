import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestContext, Stage } from '../../core/types.js';
import type { Forwarder } from './forwarder.js';
import type { ServiceRuntime } from './service-runtime.js';

/** The router, Envoy's last filter: sends the request to the chosen colour and relays the answer. */
export function createProxyStage(runtimes: ReadonlyMap<string, ServiceRuntime>, forwarder: Forwarder): Stage {
  return {
    name: 'proxy',
    run(ctx: RequestContext, req?: IncomingMessage, res?: ServerResponse) {
      return forwarder.forward(req!, res!, ctx, runtimes.get(ctx.service!)!, ctx.color!);
    },
  };
}
