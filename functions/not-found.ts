import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from 'aws-lambda';
import { jsonResponse } from '../shared/api/responses.js';

/** The API's `$default` route: any method and path the contract does not have. */
export const handler = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyResultV2> =>
  jsonResponse(
    404,
    { error: `There is no ${event.requestContext.http.method} ${event.rawPath} in this API.`, code: 'route_not_found' },
    event.requestContext.requestId ?? context.awsRequestId,
  );
