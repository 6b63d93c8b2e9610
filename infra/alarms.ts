import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Alarm, ComparisonOperator, MathExpression, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { FilterPattern, MetricFilter, type ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

/** The project's own metrics (shared/platform/observability.ts): namespace and the dimensions every one carries. */
const NAMESPACE = 'AiChat';
const FIVE_MINUTES = Duration.minutes(5);

export interface AlarmsProps {
  stage: string;
  /** A protected stage keeps the topic's key when the stack goes (its messages may still need it). */
  protect: boolean;
  api: HttpApi;
  /** The HTTP API stage's access log (a metric filter counts its 429s). */
  accessLogs: ILogGroup;
  /** Every API function, the stream functions included. */
  apiFunctions: IFunction[];
  /** The stream functions (function URLs: the HTTP API's metrics do not see them). */
  streamFunctions: IFunction[];
  /** The queue consumers that answer, deliver or erase, and their timeout in seconds. */
  workers: Array<{ fn: IFunction; timeoutSeconds: number }>;
  deadLetterConsumers: IFunction[];
  jobQueues: Queue[];
  deadLetterQueues: Queue[];
  /** Webhook events that failed every try of their schedule (about 28 hours). */
  eventDeadLetterQueue: Queue;
  /** Erasure passes that failed every try. */
  erasureDeadLetterQueue: Queue;
  table: ITableV2;
  /** Alarms are mailed here when given (the address must confirm the SNS subscription). */
  email?: string;
}

/**
 * What someone on call needs to hear about, each alarm saying what to do: answers or tasks failing
 * (as a rate), jobs that could not be queued, jobs that gave up (dead letters received) or wait too
 * long, throttled or slow functions, a throttled or failing table, and the API answering 5xx or 429
 * (as rates of its requests). Every alarm notifies one SNS topic when it fires and when it clears;
 * the topic's key and policy let CloudWatch, and only this stage's alarms, publish to it.
 */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const prefix = `ai-chat-${props.stage}-`;
    const stageAlarms = Stack.of(this).formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: `${prefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    const fromStageAlarms = { ArnLike: { 'aws:SourceArn': stageAlarms } };

    const key = new Key(this, 'TopicKey', {
      enableKeyRotation: true,
      description: `ai-chat ${props.stage} alarm topic`,
      removalPolicy: props.protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // The topic is encrypted: CloudWatch must be able to use the key to publish (aws-cdk#11121).
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: fromStageAlarms,
      }),
    );
    this.topic = new Topic(this, 'Topic', { displayName: `ai-chat ${props.stage} alarms`, masterKey: key, enforceSSL: true });
    // A topic policy replaces SNS's default one: CloudWatch's right to publish is written out.
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromStageAlarms,
      }),
    );
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.topic);

    const alarm = (name: string, metric: IMetric, threshold: number, description: string, evaluationPeriods = 1) => {
      const created = new Alarm(this, name, {
        alarmName: `${prefix}${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      created.addOkAction(action);
      this.alarms.push(created);
      return created;
    };
    const own = (metricName: string, service: 'ai-chat-api' | 'ai-chat-worker') =>
      new Metric({ namespace: NAMESPACE, metricName, dimensionsMap: { service, stage: props.stage }, statistic: 'Sum', period: FIVE_MINUTES });
    /** `part / whole`, or 0 while `part` is under `minimum` (a few failures in a quiet hour page nobody). */
    const rate = (part: IMetric, whole: IMetric, minimum: number, label: string) =>
      new MathExpression({
        expression: `IF(part >= ${minimum}, part / MAX([whole, part]), 0)`,
        usingMetrics: { part, whole },
        period: FIVE_MINUTES,
        label,
      });

    // The answers and tasks themselves.
    for (const kind of ['Answer', 'Task'] as const) {
      const failed = own(`${kind}Failed`, 'ai-chat-worker');
      const all = new MathExpression({
        expression: 'failed + completed',
        usingMetrics: { failed, completed: own(`${kind}Completed`, 'ai-chat-worker') },
        period: FIVE_MINUTES,
      });
      alarm(
        `${kind}FailedRate`,
        rate(failed, all, 5, `${kind.toLowerCase()}s failed / finished`),
        0.2,
        `A fifth or more of the ${kind.toLowerCase()}s finished in 5 minutes failed (at least 5). Read the failure sentences in the worker logs ` +
          '(error field): a provider outage (5xx, timeouts) passes by itself; refused keys or a wrong base URL need the organizations\u2019 ' +
          'settings fixed (npm run org -- show).',
      );
    }
    alarm(
      'QueueUnavailableRate',
      rate(own('QueueUnavailable', 'ai-chat-api'), new MathExpression({
        expression: 'unavailable + queued',
        usingMetrics: { unavailable: own('QueueUnavailable', 'ai-chat-api'), queued: own('JobQueued', 'ai-chat-api') },
        period: FIVE_MINUTES,
      }), 3, 'asks and tasks refused 503 / tried'),
      0.05,
      'Asks or tasks were refused 503 because SQS did not take their job (at least 3, 5% or more). Clients are told to retry; check the ' +
        'SQS service health and the Ask and CreateTask functions\u2019 logs ("could not queue").',
    );

    // Jobs that gave up or wait.
    for (const queue of props.deadLetterQueues) {
      alarm(
        `${queue.node.id}Received`,
        queue.metric('NumberOfMessagesReceived', { period: FIVE_MINUTES, statistic: 'Sum' }),
        1,
        'Jobs gave up after every receive and reached the dead-letter queue; their answers or tasks were failed with a sentence. Read the ' +
          'worker logs around that time for the cause (a crash, a timeout, a bad record); the dead letters themselves are consumed.',
      );
      alarm(
        `${queue.node.id}OldestAge`,
        queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
        15 * 60,
        'A dead letter has waited 15 minutes: its consumer is failing, so its answer or task stays waiting until its deadline. Read the ' +
          'DeadLetters function\u2019s logs.',
      );
    }
    alarm(
      'WebhookEventsDeadLettered',
      // Messages moved there by SQS's redrive are not counted as sent: the queue's depth is watched.
      props.eventDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      1,
      'A webhook event failed every try for about 28 hours and was put in its dead-letter queue (kept 14 days): an organization\u2019s ' +
        'receiver is down or refuses the events (WebhookDelivery logs say why: its status or error). Once it is fixed, redrive the ' +
        'dead-letter queue to the webhooks queue (SQS console: "Start DLQ redrive").',
    );
    alarm(
      'ErasurePassesDeadLettered',
      props.erasureDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      1,
      'A pass of a user\u2019s erasure failed five times and was put in its dead-letter queue (kept 14 days): part of that user\u2019s ' +
        'data may still be in the table (no route shows it: its sessions are marked as being deleted). The Erasure function\u2019s logs say ' +
        'why; once it is fixed, redrive the dead-letter queue to the erasure queue (SQS console: "Start DLQ redrive").',
    );
    for (const queue of props.jobQueues) {
      alarm(
        `${queue.node.id}OldestAge`,
        queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
        15 * 60,
        'A job has waited 15 minutes on its queue: the workers are not keeping up (throttled, at their maximum concurrency) or keep ' +
          'retrying it. Check the worker throttles and duration alarms and the worker logs.',
        2,
      );
    }

    // Functions.
    const allFunctions = [...props.apiFunctions, ...props.workers.map((worker) => worker.fn), ...props.deadLetterConsumers];
    // An alarm's metric math takes at most 10 metrics: the functions are summed ten at a time.
    for (let start = 0, group = 1; start < allFunctions.length; start += 10, group++) {
      const slice = allFunctions.slice(start, start + 10);
      const usingMetrics = Object.fromEntries(slice.map((fn, index) => [`f${index}`, fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' })]));
      alarm(
        `FunctionThrottles${group}`,
        new MathExpression({ expression: Object.keys(usingMetrics).join(' + '), usingMetrics, period: FIVE_MINUTES, label: 'throttled invocations' }),
        1,
        'Lambda refused invocations for lack of concurrency: API calls answered 5xx or 429, jobs delayed. Raise the account\u2019s ' +
          'concurrency quota, or lower the workers\u2019 maximum concurrency.',
      );
    }
    for (const { fn, timeoutSeconds } of props.workers) {
      alarm(
        `${fn.node.id}NearTimeout`,
        fn.metricDuration({ period: FIVE_MINUTES, statistic: 'Maximum' }),
        timeoutSeconds * 1000 * 0.9,
        `A worker invocation ran past 90% of its ${timeoutSeconds} s timeout: model calls are slow enough that jobs will time out and be ` +
          'retried. Check the provider\u2019s latency (ModelLatency metric) and the batch size.',
      );
    }
    for (const fn of [...props.workers.map((worker) => worker.fn), ...props.deadLetterConsumers, ...props.streamFunctions]) {
      alarm(
        `${fn.node.id}Errors`,
        fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
        1,
        'A function invocation failed as a whole (a crash or a timeout): jobs are retried and streams resumed by clients, but read its logs for the cause.',
      );
    }

    // The table.
    const tableMetric = (metricName: string, operation?: string) =>
      new Metric({
        namespace: 'AWS/DynamoDB',
        metricName,
        dimensionsMap: { TableName: props.table.tableName, ...(operation ? { Operation: operation } : {}) },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });
    alarm(
      'TableThrottles',
      new MathExpression({
        expression: 'reads + writes',
        usingMetrics: { reads: tableMetric('ReadThrottleEvents'), writes: tableMetric('WriteThrottleEvents') },
        period: FIVE_MINUTES,
        label: 'throttled table requests',
      }),
      10,
      'The table throttled requests (on-demand tables throttle past twice their previous peak, or on a hot partition): the API answers ' +
        '503 with Retry-After and workers retry. Look for one organization or session driving the traffic.',
    );
    const operations = ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchGetItem', 'BatchWriteItem'];
    const systemErrors = Object.fromEntries(operations.map((operation) => [operation.toLowerCase(), tableMetric('SystemErrors', operation)]));
    alarm(
      'TableSystemErrors',
      new MathExpression({ expression: Object.keys(systemErrors).join(' + '), usingMetrics: systemErrors, period: FIVE_MINUTES, label: 'table system errors' }),
      5,
      'DynamoDB answered 5xx: the API answers 503 and workers retry. Check the AWS Health dashboard for DynamoDB in this region.',
    );

    // The API, as rates of its requests.
    const requests = props.api.metricCount({ period: FIVE_MINUTES, statistic: 'Sum' });
    alarm(
      'Api5xxRate',
      rate(props.api.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum' }), requests, 5, 'API 5xx / requests'),
      0.05,
      'The API answered 5xx to 5% or more of its requests (at least 5). Find the request ids in the access log (status 5xx) and read ' +
        'those functions\u2019 logs; 503s with code queue_unavailable or service_busy come from SQS or DynamoDB.',
    );
    const throttledFilter = new MetricFilter(this, 'Api429Filter', {
      logGroup: props.accessLogs,
      filterPattern: FilterPattern.numberValue('$.status', '=', 429),
      metricNamespace: NAMESPACE,
      metricName: 'Api429',
      metricValue: '1',
      dimensions: { stage: '$.stage' },
    });
    const throttled = throttledFilter.metric({ period: FIVE_MINUTES, statistic: 'Sum', dimensionsMap: { stage: props.stage } });
    alarm(
      'Api429Rate',
      rate(throttled, requests, 20, 'API 429 / requests'),
      0.2,
      'A fifth or more of the API\u2019s requests were answered 429 (at least 20): organizations at their rate limit, or the stage\u2019s ' +
        'throttle reached by a flood. Check the WAF\u2019s blocked requests and which organization is limited (RateLimited metric, logs).',
    );
  }
}
