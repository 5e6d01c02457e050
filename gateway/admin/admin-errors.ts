import type { FastifyReply, FastifyRequest } from 'fastify';
import { type ErrorSpec, errorBody } from '../core/errors.js';

/** Sends an admin-plane error in the same JSON shape as the data plane. */
export function replyError(
  request: FastifyRequest,
  reply: FastifyReply,
  spec: ErrorSpec,
  message?: string,
  headers?: Record<string, string>,
): FastifyReply {
  if (headers) reply.headers(headers);
  return reply
    .code(spec.status)
    .header('content-type', 'application/json; charset=utf-8')
    .send(errorBody(spec.code, message ?? spec.message, request.id));
}
