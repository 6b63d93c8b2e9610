import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';

/**
 * What Lambda's Node.js runtime offers a response-streaming handler, for the local gateway:
 * `awslambda.streamifyResponse(handler)` marks a handler that is called as
 * `handler(event, responseStream, context)`, and `awslambda.HttpResponseStream.from(stream,
 * {statusCode, headers})` sets the status and headers written before the first byte. Installed
 * before any handler module is loaded (middy calls `streamifyResponse` at import).
 */
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');

interface Prelude {
  statusCode?: number;
  headers?: Record<string, string>;
}

/** A response stream onto a Node HTTP response: the prelude becomes its head, the bytes its body. */
export class LocalResponseStream extends Writable {
  #prelude: Prelude = {};
  constructor(private readonly response: ServerResponse) {
    super();
    // A client that hangs up ends the stream: the handler's next write fails and it stops. Lambda's
    // runtime does not tell a streaming handler that its client left (runtime-interface-client
    // #145), so in AWS a stream runs on to `done` or its 5-minute bound (decision 0001).
    response.on('close', () => {
      if (!response.writableFinished) this.destroy(new Error('the client closed the connection'));
    });
  }
  setPrelude(prelude: Prelude): void {
    this.#prelude = prelude;
  }
  #head(): void {
    if (!this.response.headersSent) this.response.writeHead(this.#prelude.statusCode ?? 200, this.#prelude.headers ?? {});
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#head();
    if (!chunk.length) return callback();
    this.response.write(chunk, (error) => callback(error));
  }
  override _final(callback: (error?: Error | null) => void): void {
    this.#head();
    this.response.end(() => callback());
  }
}

/** Installs `awslambda.streamifyResponse` and `awslambda.HttpResponseStream` unless Lambda's runtime has. */
export function installLambdaStreaming(): void {
  const global = globalThis as unknown as { awslambda?: Record<string, unknown> };
  global.awslambda ??= {};
  global.awslambda.streamifyResponse ??= <H extends object>(handler: H): H => Object.assign(handler, { [STREAMING]: 'response' });
  global.awslambda.HttpResponseStream ??= {
    from: (stream: LocalResponseStream, prelude: Prelude) => (stream.setPrelude(prelude), stream),
  };
}

/** Whether a handler was made with `awslambda.streamifyResponse`. */
export const isStreamingHandler = (handler: unknown): boolean => typeof handler === 'function' && STREAMING in handler;
