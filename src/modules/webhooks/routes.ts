import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../../http/auth.js';
import { routesOf } from '../../http/route.js';
import { pageOf } from '../../http/schemas.js';
import { DELIVERIES_KEYSET } from './repo.js';
import { EVENT_TYPES } from './event-types.js';
import {
  Delivery,
  DeliveryList,
  DeliveryListQuery,
  DeliveryParams,
  MAX_WEBHOOKS_PER_ORG,
  RecoverAnswer,
  RecoverRequest,
  Webhook,
  WebhookCreate,
  WebhookList,
  WebhookParams,
  WebhookUpdate,
  WebhookWithSecret,
} from './schema.js';
import type { WebhooksService } from './service.js';

const WebhookRef = Type.Ref(Webhook);
const DeliveryRef = Type.Ref(Delivery);
const RotatedSecret = Type.Composite([
  WebhookWithSecret,
  Type.Object({
    previous_secret_expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'Until then deliveries carry a signature with the previous secret too.',
    }),
  }),
]);

const TARGET_RULE =
  'The URL is http(s), without credentials, and must resolve to public addresses only: private, loopback, link-local, ' +
  'CGNAT, unique-local, multicast and reserved addresses are refused (422), and checked again against the address ' +
  'each delivery connects to. Redirects are not followed.';

/** Webhook endpoints, their secrets and deliveries (Standard Webhooks). */
export async function webhookRoutes(app: FastifyInstance, opts: { webhooks: WebhooksService }) {
  const { webhooks } = opts;
  const route = routesOf(app, { tags: ['webhooks'] });

  route.post('/', {
    operationId: 'createWebhook',
    summary: 'Create Webhook',
    description:
      `Events: ${EVENT_TYPES.map((t) => `\`${t}\``).join(', ')}. ${TARGET_RULE} The signing secret is in this answer only; ` +
      `an org has at most ${MAX_WEBHOOKS_PER_ORG} endpoints (409).`,
    scope: 'webhooks:write',
    body: WebhookCreate,
    response: {
      201: { description: 'The endpoint, with its signing secret: the only time the secret is shown.', schema: WebhookWithSecret },
    },
    errors: [409, 422],
    options: { config: { secretField: 'secret' } },
    handler: async (request, reply) => reply.code(201).send(await webhooks.create(principalOf(request), request.body)),
  });

  route.get('/', {
    operationId: 'listWebhooks',
    summary: 'List Webhooks',
    scope: 'webhooks:write',
    response: { 200: { description: 'Every endpoint of the org, newest first; never a secret.', schema: WebhookList } },
    handler: async (request) => webhooks.list(principalOf(request)),
  });

  route.get('/:webhook_id', {
    operationId: 'getWebhook',
    summary: 'Get Webhook',
    scope: 'webhooks:write',
    params: WebhookParams,
    response: { 200: { description: 'The endpoint.', schema: WebhookRef } },
    notFound: 'webhook',
    handler: async (request) => webhooks.get(principalOf(request), request.params.webhook_id),
  });

  route.patch('/:webhook_id', {
    operationId: 'updateWebhook',
    summary: 'Update Webhook',
    description: `${TARGET_RULE} \`enabled: true\` re-enables an endpoint the service disabled; \`enabled: false\` fails what it had pending.`,
    scope: 'webhooks:write',
    params: WebhookParams,
    body: WebhookUpdate,
    response: { 200: { description: 'The endpoint as changed.', schema: WebhookRef } },
    notFound: 'webhook',
    errors: [422],
    handler: async (request) => webhooks.update(principalOf(request), request.params.webhook_id, request.body),
  });

  route.delete('/:webhook_id', {
    operationId: 'deleteWebhook',
    summary: 'Delete Webhook',
    description: 'The endpoint and its deliveries are gone; nothing more is sent to it.',
    scope: 'webhooks:write',
    params: WebhookParams,
    response: { 204: { description: 'Deleted.' } },
    notFound: 'webhook',
    handler: async (request, reply) => {
      await webhooks.delete(principalOf(request), request.params.webhook_id);
      return reply.code(204).send();
    },
  });

  route.post('/:webhook_id/rotate-secret', {
    operationId: 'rotateWebhookSecret',
    summary: 'Rotate Webhook Secret',
    description:
      'A new signing secret, in this answer only. For a while (`previous_secret_expires_at`) deliveries carry two ' +
      'signatures, one per secret, so a receiver can switch without missing one.',
    scope: 'webhooks:write',
    params: WebhookParams,
    response: { 200: { description: 'The endpoint with its new secret.', schema: RotatedSecret } },
    notFound: 'webhook',
    options: { config: { secretField: 'secret' } },
    handler: async (request) => webhooks.rotateSecret(principalOf(request), request.params.webhook_id),
  });

  route.get('/:webhook_id/deliveries', {
    operationId: 'listWebhookDeliveries',
    summary: 'List Webhook Deliveries',
    description:
      "Newest first. Delivery order is not promised: each event carries `data.sequence`, its subject's event number, to order by.",
    scope: 'webhooks:write',
    params: WebhookParams,
    querystring: DeliveryListQuery,
    response: { 200: { description: "One page of the endpoint's deliveries, with their total count.", schema: DeliveryList } },
    notFound: 'webhook',
    errors: [422],
    handler: async (request) =>
      webhooks.deliveries(principalOf(request), request.params.webhook_id, {
        status: request.query.status,
        ...pageOf(request.query, DELIVERIES_KEYSET),
      }),
  });

  route.post('/:webhook_id/deliveries/:delivery_id/redeliver', {
    operationId: 'redeliverWebhookDelivery',
    summary: 'Redeliver',
    description: 'Sends the event again with the same `webhook-id` and a fresh retry schedule, whatever became of it before.',
    scope: 'webhooks:write',
    params: DeliveryParams,
    response: { 202: { description: 'The delivery, pending again.', schema: DeliveryRef } },
    notFound: 'webhook or delivery',
    errors: [409],
    handler: async (request, reply) =>
      reply.code(202).send(await webhooks.redeliver(principalOf(request), request.params.webhook_id, request.params.delivery_id)),
  });

  route.post('/:webhook_id/recover', {
    operationId: 'recoverWebhookDeliveries',
    summary: 'Recover Failed Deliveries',
    description: 'Every failed delivery of an event made in [since, until) is pending again, with a fresh retry schedule.',
    scope: 'webhooks:write',
    params: WebhookParams,
    body: RecoverRequest,
    response: { 202: { description: 'How many deliveries are pending again.', schema: RecoverAnswer } },
    notFound: 'webhook',
    errors: [409, 422],
    handler: async (request, reply) =>
      reply.code(202).send(await webhooks.recover(principalOf(request), request.params.webhook_id, request.body)),
  });
}
