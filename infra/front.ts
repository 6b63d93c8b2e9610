import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  Function as EdgeFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  PriceClass,
  Signing,
  ViewerProtocolPolicy,
  FunctionUrlOriginAccessControl,
  type BehaviorOptions,
} from 'aws-cdk-lib/aws-cloudfront';
import { FunctionUrlOrigin, HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import { FRONT_CHECK_FILE } from '../shared/contract/project.js';
import type { RouteDefinition } from '../shared/contract/routes.js';

export interface ChatFrontProps {
  api: HttpApi;
  /** The host of the HTTP API that the front calls (its custom domain, or its execute-api host). */
  apiOrigin: string;
  streams: Array<{ route: RouteDefinition; url: FunctionUrl }>;
  /** The web ACL (CloudFront scope) that guards the front. */
  webAclArn: string;
  /** The stage's CORS origins: the front's refusals carry CORS headers for them. */
  corsOrigins: string[];
}

/** The front's check as deployed: infra/front-check.js with the stage's CORS origins written in. */
export const frontCheckCode = (corsOrigins: string[]): string =>
  readFileSync(FRONT_CHECK_FILE, 'utf8').replace('var CORS_ORIGINS = [];', `var CORS_ORIGINS = ${JSON.stringify(corsOrigins)};`);

/** A route's path as a CloudFront path pattern: each `{parameter}` matches any one segment's text. */
export const pathPattern = (path: string): string => path.replace(/\{\w+\}/g, '*');

/**
 * The API's one base URL: a CloudFront distribution whose default behavior is the HTTP API and
 * whose stream routes go to their response-streaming function URLs (docs/decisions/0001-streams-front.md).
 * A web ACL (rate per IP, managed rules) and the front's own check (infra/front-check.js: no bearer
 * token, 401; a body announced past the limit, 413) refuse requests before any Lambda runs. Nothing
 * is cached (every answer is per caller); every viewer header but Host reaches the origin. The
 * function URLs accept only requests the front signed (origin access control).
 */
export class ChatFront extends Construct {
  readonly distribution: Distribution;

  constructor(scope: Construct, id: string, props: ChatFrontProps) {
    super(scope, id);
    const check = new EdgeFunction(this, 'Check', {
      code: FunctionCode.fromInline(frontCheckCode(props.corsOrigins)),
      runtime: FunctionRuntime.JS_2_0,
      comment: 'ai-chat: refuses requests without a bearer token or with a body past the limit',
    });
    const passThrough = {
      cachePolicy: CachePolicy.CACHING_DISABLED,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
      functionAssociations: [{ function: check, eventType: FunctionEventType.VIEWER_REQUEST }],
    };
    // CloudFront signs each request to the stream functions in `Authorization` (SigV4); the front's
    // check has copied the Clerk token to `x-clerk-authorization` before.
    const signed = new FunctionUrlOriginAccessControl(this, 'StreamsAccess', {
      description: 'ai-chat: the front signs its requests to the stream functions',
      signing: Signing.SIGV4_ALWAYS,
    });
    const additionalBehaviors: Record<string, BehaviorOptions> = {};
    for (const { route, url } of props.streams) {
      additionalBehaviors[pathPattern(route.path)] = {
        ...passThrough,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        // Keep-alives come every 15 s; the origin may be silent up to this long between bytes.
        origin: FunctionUrlOrigin.withOriginAccessControl(url, {
          originAccessControl: signed,
          readTimeout: Duration.seconds(60),
          keepaliveTimeout: Duration.seconds(60),
        }),
      };
    }
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'AI chat API: the HTTP API, and the stream routes as response-streaming function URLs',
      priceClass: PriceClass.PRICE_CLASS_100,
      webAclId: props.webAclArn,
      defaultBehavior: {
        ...passThrough,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        origin: new HttpOrigin(props.apiOrigin, { protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY, readTimeout: Duration.seconds(60) }),
      },
      additionalBehaviors,
    });
  }
}
