/**
 * `GET /v1/admin/nodes` (scope `admin`): the signing nodes as the coordinator sees them — each
 * configured node's id, URL, whether it answers a health check now, when it last answered healthy,
 * the keys it holds (with generation, and a pending refresh generation) and whether it is excluded
 * after being identified as cheating. Without signing configured the route answers 404
 * `signing_not_configured`.
 *
 * @example
 *   await registerNodeRoutes(app, { nodes: () => coordinator.nodeStatus() });
 */
import type { FastifyInstance } from 'fastify';
import { CustosError } from '../core/errors.js';
import type { NodeStatus } from '../mpc/coordinator/coordinator.js';

export const NodeListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['nodes'],
  properties: {
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'url', 'reachable', 'lastSeen', 'keys', 'excluded'],
        properties: {
          id: { type: 'string' },
          url: { type: 'string' },
          reachable: { type: 'boolean', description: 'answered a health check just now' },
          lastSeen: { type: ['string', 'null'], format: 'date-time', description: 'last healthy answer; null: never since this process started' },
          keys: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['keyId', 'generation'],
              properties: {
                keyId: { type: 'string' },
                generation: { type: 'integer', description: 'share generation (each refresh adds one)' },
                pending: { type: 'integer', description: 'a finished refresh not yet committed on this node' },
              },
            },
          },
          excluded: { type: 'boolean', description: 'identified as cheating; left out of signing until readmitted' },
          error: { type: 'string', description: 'why the node is not reachable' },
        },
      },
    },
  },
} as const;

export async function registerNodeRoutes(app: FastifyInstance, o: { nodes?: (() => Promise<NodeStatus[]>) | undefined }): Promise<void> {
  app.get(
    '/v1/admin/nodes',
    {
      config: { scope: 'admin' },
      schema: {
        summary: 'Signing nodes: reachable, last seen, keys held, excluded as culprit',
        security: [{ custosSignature: [] }],
        response: { 200: NodeListSchema, 401: { $ref: 'Problem#' }, 403: { $ref: 'Problem#' }, 404: { $ref: 'Problem#' } },
      },
    },
    async () => {
      if (!o.nodes) throw new CustosError('signing_not_configured', 'this gateway has no signing nodes configured', 404);
      const list = await o.nodes();
      return {
        nodes: list.map((n) => ({
          id: n.id, url: n.url, reachable: n.reachable, lastSeen: n.lastSeen === null ? null : new Date(n.lastSeen).toISOString(),
          keys: n.keys.map((k) => ({ keyId: k.keyId, generation: k.generation, ...(k.pending !== undefined ? { pending: k.pending } : {}) })),
          excluded: n.excluded, ...(n.error ? { error: n.error } : {}),
        })),
      };
    },
  );
}
