import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { OPENAPI_PATH } from '../../src/http/openapi';

/*
 * Keeps the OpenAPI document and the server's real answers from drifting apart. Every in-process
 * app of the e2e suites records what each response was (method, route pattern, status, `code`,
 * headers); after each test file, `documented-responses.setup.ts` checks each record against the
 * document generated from that same app and fails the file naming every answer it does not list.
 */

/** One distinct kind of answer a route gave. */
export interface RecordedResponse {
  method: string;
  /** Fastify's route pattern, e.g. `/sessions/:sessionId`. */
  route: string;
  status: number;
  code?: string;
  /** Header names, lower-case. */
  headers: string[];
}

export class ResponseLog {
  private readonly seen = new Map<string, RecordedResponse>();

  /** Keeps one record per distinct answer, so a suite sending thousands of requests stays cheap. */
  add(response: RecordedResponse): void {
    const key = JSON.stringify([
      response.method,
      response.route,
      response.status,
      response.code,
      response.headers.includes('retry-after'),
    ]);
    if (!this.seen.has(key)) this.seen.set(key, response);
  }

  get responses(): RecordedResponse[] {
    return [...this.seen.values()];
  }
}

/** Routes that are not the API: the OpenAPI UI and document themselves, and CORS preflights. */
function isInfrastructure(method: string, route: string): boolean {
  const docs = `/${OPENAPI_PATH}`;
  return (
    method === 'OPTIONS' ||
    route === docs ||
    route.startsWith(`${docs}/`) ||
    route.startsWith(`${docs}-`)
  );
}

/**
 * Records every answer the app gives to a request a route matched (requests no route matched
 * never reach the API's routes). Call before `app.init()`.
 */
export function recordResponses(app: NestFastifyApplication, log = new ResponseLog()): ResponseLog {
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && !isInfrastructure(request.method, route)) {
      log.add({
        method: request.method,
        route,
        status: reply.statusCode,
        code: reply.statusCode >= 400 ? codeOf(payload) : undefined,
        headers: Object.keys(reply.getHeaders()).map((name) => name.toLowerCase()),
      });
    }
    done(null, payload);
  });
  return log;
}

function codeOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const body = JSON.parse(payload) as { code?: unknown } | null;
    return typeof body?.code === 'string' ? body.code : undefined;
  } catch {
    return undefined;
  }
}

type Node = Record<string, any>;

/** The codes a documented response names, and whether it always carries one. */
function documentedCodes(response: Node): { codes: string[]; required: boolean } {
  const schema: Node | undefined = response.content?.['application/json']?.schema;
  for (const part of [schema, ...(schema?.allOf ?? [])] as Array<Node | undefined>) {
    const code = part?.properties?.code;
    if (Array.isArray(code?.enum)) {
      return { codes: code.enum, required: (part?.required ?? []).includes('code') };
    }
  }
  return { codes: [], required: false };
}

/**
 * Every recorded answer the document does not list for its route: an unknown route, a status it
 * does not name, a `code` that status does not name (or none where it always carries one), or a
 * header it promises and the answer lacks. Empty when document and answers agree.
 */
export function undocumentedResponses(
  responses: readonly RecordedResponse[],
  document: OpenAPIObject,
): string[] {
  const problems = new Set<string>();
  for (const { method, route, status, code, headers } of responses) {
    const path = route.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    // HEAD is answered by the GET route, minus the body.
    const verb = method === 'HEAD' ? 'get' : method.toLowerCase();
    const answer = `${method} ${path} answered ${status}${code ? ` ${code}` : ''}`;
    const operation = (document.paths[path] as Node | undefined)?.[verb] as Node | undefined;
    if (!operation) {
      problems.add(`${method} ${path} is not in the OpenAPI document`);
      continue;
    }
    const documented = operation.responses?.[String(status)] as Node | undefined;
    if (!documented) {
      problems.add(`${answer}, and the document lists no ${status} for it`);
      continue;
    }
    const { codes, required } = documentedCodes(documented);
    if (code !== undefined && !codes.includes(code)) {
      problems.add(
        `${answer}, and its ${status} lists ${codes.length ? `only ${codes.join(', ')}` : 'no code'}`,
      );
    }
    if (code === undefined && required && method !== 'HEAD') {
      problems.add(`${answer} without a code, and its ${status} always has one of ${codes}`);
    }
    for (const header of Object.keys(documented.headers ?? {})) {
      if (!headers.includes(header.toLowerCase())) {
        problems.add(`${answer} without ${header}, which its ${status} documents`);
      }
    }
  }
  return [...problems].sort();
}

/** The apps of the current test file whose answers the after-file check will compare. */
const checked: Array<{ log: ResponseLog; document: OpenAPIObject }> = [];

/** Records an app's answers for the after-file check, against its own document (built now). */
export function checkResponsesAgainst(
  app: NestFastifyApplication,
  document: () => OpenAPIObject,
): void {
  const log = recordResponses(app);
  let built: OpenAPIObject | undefined;
  checked.push({
    log,
    get document() {
      return (built ??= document());
    },
  });
  // Built before the app closes, whatever the suite does after.
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onClose', (_instance, done) => {
      if (log.responses.length) built ??= document();
      done();
    });
}

/** What the after-file check reports: every undocumented answer of every app, then forgets them. */
export function undocumentedResponsesOfThisFile(): string[] {
  const problems = checked.flatMap(({ log, document }) =>
    log.responses.length ? undocumentedResponses(log.responses, document) : [],
  );
  checked.length = 0;
  return [...new Set(problems)].sort();
}
