import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, ProjectionType, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { TABLE } from '../shared/store/table.js';

export interface ChatTableProps {
  /** prod: point-in-time recovery, deletion protection and RETAIN. */
  protect: boolean;
}

/** The single table, built from shared/store/table.ts (the local stack creates it from the same). */
export class ChatTable extends Construct {
  readonly table: TableV2;

  constructor(scope: Construct, id: string, props: ChatTableProps) {
    super(scope, id);
    const { partitionKey, sortKey, byOwnerIndex, ttlAttribute } = TABLE;
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: partitionKey, type: AttributeType.STRING },
      sortKey: { name: sortKey, type: AttributeType.STRING },
      billing: Billing.onDemand(),
      timeToLiveAttribute: ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: props.protect },
      deletionProtection: props.protect,
      removalPolicy: props.protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      globalSecondaryIndexes: [
        {
          indexName: byOwnerIndex.name,
          partitionKey: { name: byOwnerIndex.partitionKey, type: AttributeType.STRING },
          sortKey: { name: byOwnerIndex.sortKey, type: AttributeType.STRING },
          projectionType: ProjectionType.ALL,
        },
      ],
    });
  }
}
