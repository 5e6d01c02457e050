// GET /admin/screening (what is active, what last failed) and PUT /admin/screening/rules (a new
// ruleset: validated, swapped atomically, audited; refused with 422 and its diagnostics otherwise).
// An encapsulated plugin, like the policy routes: its body parser stays inside; errors go to the admin
// server's responder (a refused ruleset's diagnostics ride along in the error object).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors, GatewayError } from '../../core/errors.js';
import type { ScreeningRuntime } from './runtime.js';

export const RULES_BODY_LIMIT = 1024 * 1024;
const JSON_TYPES = ['application/json'];
const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

export interface ScreeningAuditEntry {
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
}

export interface ScreeningRouteDeps {
  readonly runtime: ScreeningRuntime;
  readonly audit: (entry: ScreeningAuditEntry) => Promise<void>;
}

export function registerScreeningRoutes(app: FastifyInstance, deps: ScreeningRouteDeps): void {
  app.register(async (scope) => {
    // The ruleset is taken as text and parsed by the loader, so a syntax error gets the same diagnostics
    // as any other problem (and a YAML file can be uploaded as it is).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      [...JSON_TYPES, ...YAML_TYPES],
      { parseAs: 'string', bodyLimit: RULES_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    scope.get('/admin/screening', async (_request, reply) => reply.send(deps.runtime.state()));

    scope.put(
      '/admin/screening/rules',
      { bodyLimit: RULES_BODY_LIMIT, config: { action: 'screening.put' } },
      async (request, reply) => {
        const body = request.body;
        if (typeof body !== 'string' || body.trim() === '') {
          throw new GatewayError(
            Errors.UNSUPPORTED_MEDIA_TYPE,
            'send the ruleset as application/json or application/yaml',
            undefined,
            { diagnostics: [] },
          );
        }
        const format = YAML_TYPES.includes(mime(request.headers['content-type'])) ? 'yaml' : 'json';
        const actor = principal(request);
        const before = { revision: deps.runtime.state().revision };
        const outcome = deps.runtime.reload(body, format, `upload by ${actor}`);
        if (outcome.ok) {
          await deps.audit({
            actor,
            action: 'screening.put',
            target: 'screening',
            before,
            after: { revision: outcome.revision },
          });
          return reply.send(deps.runtime.state());
        }
        await deps.audit({
          actor,
          action: 'screening.put',
          target: 'screening',
          before,
          after: { refused: true, diagnostics: outcome.diagnostics.length, revision: before.revision },
        });
        throw new GatewayError(Errors.UNPROCESSABLE, outcome.message, undefined, {
          diagnostics: outcome.diagnostics,
        });
      },
    );
  });
}

function mime(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function principal(request: FastifyRequest): string {
  return request.adminPrincipal.name;
}
