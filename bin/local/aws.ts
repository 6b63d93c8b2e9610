import type { IncomingMessage, Server } from 'node:http';

/** Fixed region and dummy credentials for the local emulators (no AWS account is involved). */
export const localCredentials = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/** Counts a server's requests by their `x-amz-target` operation (`DynamoDB_20120810.GetItem` → `GetItem`). */
export function countRequests(server: Server): Map<string, number> {
  const counts = new Map<string, number>();
  server.on('request', (request: IncomingMessage) => {
    const operation = String(request.headers['x-amz-target'] ?? 'unknown').split('.').pop()!;
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
  });
  return counts;
}
