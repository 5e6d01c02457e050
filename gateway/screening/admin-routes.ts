// GET /admin/screening (what is active, what last failed) and PUT /admin/screening/rules (a new
// ruleset: validated, swapped atomically, audited; refused with 422 and its diagnostics otherwise).
// An encapsulated plugin, like the policy routes: its body parser and error shape stay inside.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Errors } from '../core/errors.js';
import type { RuleDiagnostic } from './rules-format.js';
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
    scope.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
      const status = err.statusCode ?? 500;
      const spec =
        status === 413
          ? Errors.PAYLOAD_TOO_LARGE
          : status === 415
            ? Errors.UNSUPPORTED_MEDIA_TYPE
            : status < 500
              ? Errors.BAD_REQUEST
              : Errors.INTERNAL;
      void reply
        .code(spec.status)
        .type('application/json')
        .send({
          error: {
            code: spec.code,
            message: status < 500 ? err.message : spec.message,
            requestId: String(request.id),
          },
        });
    });

    scope.get('/admin/screening', async (_request, reply) => reply.send(deps.runtime.state()));

    scope.put('/admin/screening/rules', { bodyLimit: RULES_BODY_LIMIT }, async (request, reply) => {
      const body = request.body;
      if (typeof body !== 'string' || body.trim() === '') {
        return refuse(
          reply,
          request,
          Errors.UNSUPPORTED_MEDIA_TYPE.status,
          Errors.UNSUPPORTED_MEDIA_TYPE.code,
          'send the ruleset as application/json or application/yaml',
          [],
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
      return refuse(
        reply,
        request,
        Errors.UNPROCESSABLE.status,
        Errors.UNPROCESSABLE.code,
        outcome.message,
        outcome.diagnostics,
      );
    });
  });
}

function refuse(
  reply: FastifyReply,
  request: FastifyRequest,
  status: number,
  code: string,
  message: string,
  diagnostics: readonly RuleDiagnostic[],
): FastifyReply {
  return reply
    .code(status)
    .type('application/json')
    .send({ error: { code, message, requestId: String(request.id), diagnostics } });
}

function mime(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase();
}

function principal(request: FastifyRequest): string {
  return (
    (request as FastifyRequest & { adminPrincipal?: { name: string } }).adminPrincipal?.name ?? 'unknown'
  );
}
