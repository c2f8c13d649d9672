import { Type } from '@sinclair/typebox';
import { NullableTimestamp, Pagination, Timestamp, Uuid, listOf, nullable } from '../../http/schemas.js';
import { EVENT_TYPES } from './event-types.js';

export const MAX_URL_LENGTH = 2048;
export const MAX_DESCRIPTION_LENGTH = 500;
/** Endpoints per org: each event is fanned out to every one listening, inside the change's transaction. */
export const MAX_WEBHOOKS_PER_ORG = 50;

const EventTypes = Type.Array(Type.Union(EVENT_TYPES.map((t) => Type.Literal(t))), {
  minItems: 1,
  uniqueItems: true,
  description: 'The event types this endpoint receives.',
});
const Url = Type.String({ minLength: 1, maxLength: MAX_URL_LENGTH, description: 'An http(s) URL on a public address.' });
const Description = nullable(Type.String({ maxLength: MAX_DESCRIPTION_LENGTH }));

export const Webhook = Type.Object(
  {
    id: Uuid,
    url: Type.String(),
    events: Type.Array(Type.String()),
    description: Description,
    enabled: Type.Boolean(),
    disabled_reason: nullable(Type.String(), {
      description: 'Why the service disabled the endpoint (410 Gone, failing for days); null when enabled or disabled by a person.',
    }),
    failing_since: nullable(Timestamp, { description: 'Since when every attempt has failed; null after a success.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { $id: 'Webhook' },
);

export const WebhookWithSecret = Type.Composite([
  Type.Omit(Webhook, ['$id']),
  Type.Object({
    secret: Type.String({ description: 'The signing secret (`whsec_…`): shown in this answer only.' }),
  }),
]);

export const WebhookCreate = Type.Object(
  {
    url: Url,
    events: EventTypes,
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean({ default: true })),
  },
  { additionalProperties: false },
);

export const WebhookUpdate = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(EventTypes),
    description: Type.Optional(Description),
    enabled: Type.Optional(Type.Boolean({ description: 'true re-enables an endpoint the service disabled, and clears its reason.' })),
  },
  { additionalProperties: false },
);

export const WebhookParams = Type.Object({ webhook_id: Type.String() });
export const DeliveryParams = Type.Object({ webhook_id: Type.String(), delivery_id: Type.String() });

export const WebhookList = listOf(Type.Ref(Webhook));

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;

export const Delivery = Type.Object(
  {
    id: Uuid,
    webhook_id: Uuid,
    event_id: Type.String({ format: 'uuid', description: 'The `webhook-id` header: the same for every attempt and every endpoint.' }),
    event_type: Type.String(),
    status: Type.Union(
      DELIVERY_STATUSES.map((s) => Type.Literal(s)),
      {
        description:
          '`pending`: due or waiting for its next attempt; `failed`: every attempt failed (dead-lettered), or the endpoint was disabled.',
      },
    ),
    attempts: Type.Integer(),
    last_status_code: nullable(Type.Integer(), { description: 'The HTTP status of the last answer; null when none came.' }),
    last_error: nullable(Type.String()),
    last_attempt_at: NullableTimestamp,
    next_attempt_at: nullable(Timestamp, { description: 'When a pending delivery is next tried.' }),
    created_at: Timestamp,
  },
  { $id: 'WebhookDelivery' },
);

export const DeliveryListQuery = Type.Composite(
  [Type.Object({ status: Type.Optional(Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)))) }), Pagination],
  { additionalProperties: false },
);

export const DeliveryList = listOf(Type.Ref(Delivery));

export const RecoverRequest = Type.Object(
  {
    since: Type.String({ format: 'date-time', description: 'Failed deliveries of events from this moment on are sent again.' }),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Up to this moment (default: now).' })),
  },
  { additionalProperties: false },
);

export const RecoverAnswer = Type.Object({
  recovered: Type.Integer({ description: 'How many failed deliveries are pending again.' }),
});
