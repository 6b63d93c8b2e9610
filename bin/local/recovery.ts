import { ScanCommand, UpdateCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import { sqsJobQueue } from '../../shared/jobs/job-queue.js';
import { MESSAGE_LIFECYCLE, TASK_LIFECYCLE, type Lifecycle } from '../../shared/jobs/work-items.js';
import { isConditionFailure, type Db } from '../../shared/store/client.js';

/**
 * Puts the jobs of every waiting answer and task back on the local queues after a restart: the
 * local queue lives in this process's memory, so a crash loses the jobs the table still waits on
 * (in AWS the queue is durable). The claims of the workers that died with the process are released
 * first, so the new jobs need not wait for their leases. A full Scan is fine here: it runs once, on
 * a laptop's table, when `npm start` starts on kept data.
 * @returns how many jobs were put back.
 */
export async function requeueWaitingWork(db: Db): Promise<number> {
  let requeued = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await db.doc.send(
      new ScanCommand({
        TableName: db.table,
        FilterExpression: '(entity = :message AND #role = :assistant AND #status IN (:pending, :processing)) OR (entity = :task AND #status IN (:taskPending, :taskProcessing))',
        ExpressionAttributeNames: { '#role': 'role', '#status': 'status' },
        ExpressionAttributeValues: {
          ':message': 'message',
          ':assistant': 'assistant',
          ':pending': MESSAGE_LIFECYCLE.pending,
          ':processing': MESSAGE_LIFECYCLE.processing,
          ':task': 'task',
          ':taskPending': TASK_LIFECYCLE.pending,
          ':taskProcessing': TASK_LIFECYCLE.processing,
        },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const orgId = String(item.pk).split('#')[1]!;
      const isTask = item.entity === 'task';
      await releaseDeadClaim(db, { pk: String(item.pk), sk: String(item.sk) }, isTask ? TASK_LIFECYCLE : MESSAGE_LIFECYCLE);
      const enqueued_at = new Date().toISOString();
      await sqsJobQueue.enqueue(
        isTask
          ? { kind: 'ctx', org_id: orgId, session_id: String(item.session_id), ctx_id: String(item.ctx_id), enqueued_at }
          : { kind: 'ask', org_id: orgId, session_id: String(item.session_id), message_id: String(item.message_id), enqueued_at },
      );
      requeued++;
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return requeued;
}

/** A claim of a worker that died with the process: the item goes back to pending, its tries kept. */
async function releaseDeadClaim(db: Db, key: { pk: string; sk: string }, states: Lifecycle): Promise<void> {
  await db.doc
    .send(
      new UpdateCommand({
        TableName: db.table,
        Key: key,
        UpdateExpression: 'SET #status = :pending REMOVE lease_until, claimed_by',
        ConditionExpression: '#status = :processing',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':pending': states.pending, ':processing': states.processing },
      }),
    )
    .catch((error: unknown) => {
      if (!isConditionFailure(error)) throw error;
    });
}
