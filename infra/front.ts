import { Duration, Fn } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  PriceClass,
  ViewerProtocolPolicy,
  type BehaviorOptions,
} from 'aws-cdk-lib/aws-cloudfront';
import { FunctionUrlOrigin, HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { RouteDefinition } from '../shared/contract/routes.js';

export interface ChatFrontProps {
  api: HttpApi;
  streams: Array<{ route: RouteDefinition; url: FunctionUrl }>;
}

/** A route's path as a CloudFront path pattern: each `{parameter}` matches any one segment's text. */
export const pathPattern = (path: string): string => path.replace(/\{\w+\}/g, '*');

/**
 * The API's one base URL: a CloudFront distribution whose default behavior is the HTTP API and
 * whose stream routes go to their response-streaming function URLs (docs/decisions/0001-streams-front.md).
 * Nothing is cached (every answer is per caller); every viewer header but Host reaches the origin,
 * the Clerk token included.
 */
export class ChatFront extends Construct {
  readonly distribution: Distribution;

  constructor(scope: Construct, id: string, props: ChatFrontProps) {
    super(scope, id);
    const passThrough = {
      cachePolicy: CachePolicy.CACHING_DISABLED,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
    };
    // The HTTP API's host, from its endpoint `https://<id>.execute-api.<region>.amazonaws.com`.
    const apiHost = Fn.select(2, Fn.split('/', props.api.apiEndpoint));
    const additionalBehaviors: Record<string, BehaviorOptions> = {};
    for (const { route, url } of props.streams) {
      additionalBehaviors[pathPattern(route.path)] = {
        ...passThrough,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        // Keep-alives come every 15 s; the origin may be silent up to this long between bytes.
        origin: new FunctionUrlOrigin(url, { readTimeout: Duration.seconds(60), keepaliveTimeout: Duration.seconds(60) }),
      };
    }
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'AI chat API: the HTTP API, and the stream routes as response-streaming function URLs',
      priceClass: PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        ...passThrough,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        origin: new HttpOrigin(apiHost, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY, readTimeout: Duration.seconds(60) }),
      },
      additionalBehaviors,
    });
  }
}
