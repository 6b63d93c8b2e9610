import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

export interface AlarmsProps {
  stage: string;
  api: HttpApi;
  workers: IFunction[];
  deadLetterQueues: Queue[];
  /** Alarms are mailed here when given (the address must confirm the SNS subscription). */
  email?: string;
}

/**
 * What someone on call needs to hear about: a job that failed for good (dead-letter queue depth),
 * a worker that crashed, and the API answering 5xx. Every alarm goes to one SNS topic.
 */
export class Alarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', {
      displayName: `ai-chat ${props.stage} alarms`,
      masterKey: new Key(this, 'TopicKey', { enableKeyRotation: true, description: `ai-chat ${props.stage} alarm topic` }),
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new EmailSubscription(props.email));
    const action = new SnsAction(this.topic);
    const alarm = (name: string, metric: IMetric, threshold: number, description: string) => {
      const created = new Alarm(this, name, {
        alarmName: `ai-chat-${props.stage}-${name}`,
        alarmDescription: description,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
    };

    for (const queue of props.deadLetterQueues) {
      alarm(
        `${queue.node.id}Depth`,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        1,
        'Jobs gave up after every retry and their messages or tasks were failed. Read the worker logs, fix the cause; the dead letters are kept 14 days.',
      );
    }
    for (const worker of props.workers) {
      alarm(
        `${worker.node.id}Errors`,
        worker.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        1,
        'A worker invocation failed as a whole (crash or timeout): its jobs are retried, but look at its logs.',
      );
    }
    alarm(
      'Api5xx',
      props.api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      5,
      'The API answered 5xx five or more times in five minutes. Look at the API functions\u2019 logs (request ids are in the access log).',
    );
  }
}
