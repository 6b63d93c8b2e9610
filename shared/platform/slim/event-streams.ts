/**
 * Stands in for `@smithy/core/event-streams` in the deployed bundles (infra/api-function.ts aliases
 * it here): no operation this service calls (DynamoDB, SQS, Secrets Manager, STS) streams events,
 * so the codec (about 13 KB) stays out of every bundle. Called anyway, it says so.
 */
const unused = (): never => {
  throw new Error('AWS event streams are not bundled: no operation of this service uses them');
};
export const eventStreamSerdeProvider = unused;
export class EventStreamSerde {
  constructor() {
    unused();
  }
}
