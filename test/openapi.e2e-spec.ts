import { readFileSync } from 'node:fs';
import { generateOpenApiDocument, OPENAPI_FILE, serialiseDocument } from '../src/cli/openapi';
import { ERROR_CODES } from '../src/http/error-response.dto';
import { startApp, TestApp } from './support/app';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const GUARDED = [{ bearer: [], fingerprint: [] }];

type Access = 'public' | 'guarded' | 'refresh';
/** Each documented status and the `code`s its answer can carry (none: it carries no code). */
type Statuses = Record<string, string[]>;

const BODY: Statuses = { '400': [], '413': [], '415': [] };
const GUARD: Statuses = { '401': [], '503': ['STORE_UNAVAILABLE'] };
const LIMITED: Statuses = { '429': ['RATE_LIMITED'], '503': ['STORE_UNAVAILABLE'] };

/** The HTTP contract: every route, every status it can answer with its codes, who may call it. */
const CONTRACT: Array<[string, string, Statuses, Access]> = [
  ['post', '/auth/register', { '201': [], ...BODY, '409': ['EMAIL_TAKEN'], ...LIMITED }, 'public'],
  [
    'post',
    '/auth/login',
    {
      '200': [],
      ...BODY,
      '401': [],
      '409': ['SESSION_LIMIT_REACHED'],
      ...LIMITED,
      '503': ['SESSION_STORE_FULL', 'STORE_UNAVAILABLE'],
    },
    'public',
  ],
  ['post', '/auth/refresh', { '200': [], ...BODY, '401': [], ...LIMITED }, 'refresh'],
  ['post', '/auth/logout', { '204': [], ...BODY, ...GUARD }, 'guarded'],
  ['get', '/auth/me', { '200': [], ...GUARD }, 'guarded'],
  [
    'post',
    '/auth/password',
    { '200': [], ...BODY, ...GUARD, '403': ['CURRENT_PASSWORD_INCORRECT'], ...LIMITED },
    'guarded',
  ],
  [
    'delete',
    '/account',
    { '204': [], ...BODY, ...GUARD, '403': ['CURRENT_PASSWORD_INCORRECT'], ...LIMITED },
    'guarded',
  ],
  ['get', '/account/events', { '200': [], '400': [], ...GUARD }, 'guarded'],
  ['get', '/sessions', { '200': [], ...GUARD }, 'guarded'],
  ['delete', '/sessions/{sessionId}', { '204': [], ...BODY, ...GUARD, '404': [] }, 'guarded'],
  ['post', '/sessions/logout-all', { '200': [], ...BODY, ...GUARD }, 'guarded'],
  ['get', '/sessions/alerts', { '200': [], ...GUARD }, 'guarded'],
  ['get', '/health/live', { '200': [], '503': [] }, 'public'],
  ['get', '/health/ready', { '200': [], '503': [] }, 'public'],
  ['get', '/metrics', { '200': [] }, 'public'],
];

/**
 * The structural rules of OpenAPI 3.0 that a generator can get wrong: required fields, response
 * objects with descriptions, declared path parameters, unique operation ids, and every `$ref` and
 * security requirement pointing at something that exists. Returns the problems found.
 */
function openApiProblems(doc: any): string[] {
  const problems: string[] = [];
  if (!/^3\.\d+\.\d+$/.test(String(doc.openapi))) problems.push(`openapi: ${doc.openapi}`);
  if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') {
    problems.push('info.title and info.version are required strings');
  }
  if (typeof doc.paths !== 'object') problems.push('paths is required');
  const schemes = doc.components?.securitySchemes ?? {};
  const operationIds = new Set<string>();

  const resolve = (ref: string) =>
    ref
      .replace(/^#\//, '')
      .split('/')
      .reduce((node: any, key) => node?.[key.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  const walk = (node: any, where: string) => {
    if (Array.isArray(node)) node.forEach((item, i) => walk(item, `${where}[${i}]`));
    else if (node && typeof node === 'object') {
      if (typeof node.$ref === 'string' && resolve(node.$ref) === undefined) {
        problems.push(`${where}: unresolved ${node.$ref}`);
      }
      for (const [key, value] of Object.entries(node)) walk(value, `${where}.${key}`);
    }
  };
  walk(doc, '#');

  for (const [path, item] of Object.entries<any>(doc.paths ?? {})) {
    if (!path.startsWith('/')) problems.push(`${path}: must start with /`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
    for (const [method, operation] of Object.entries<any>(item)) {
      if (!METHODS.includes(method)) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (operation.operationId) {
        if (operationIds.has(operation.operationId)) problems.push(`${where}: duplicate id`);
        operationIds.add(operation.operationId);
      }
      const responses = Object.entries<any>(operation.responses ?? {});
      if (responses.length === 0) problems.push(`${where}: no responses`);
      for (const [status, response] of responses) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status))
          problems.push(`${where}: status ${status}`);
        if (typeof response.description !== 'string' || response.description === '') {
          problems.push(`${where} ${status}: response without a description`);
        }
      }
      for (const name of templated) {
        const parameter = (operation.parameters ?? []).find(
          (p: any) => p.in === 'path' && p.name === name,
        );
        if (!parameter?.required) problems.push(`${where}: path parameter ${name} not declared`);
      }
      for (const requirement of operation.security ?? []) {
        for (const scheme of Object.keys(requirement)) {
          if (!schemes[scheme]) problems.push(`${where}: unknown security scheme ${scheme}`);
        }
      }
    }
  }
  return problems;
}

describe('OpenAPI (e2e)', () => {
  let target: TestApp;
  let doc: any;

  beforeAll(async () => {
    target = await startApp();
    const response = await target.inject({ method: 'GET', url: '/docs-json' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/application\/json/);
    doc = response.json();
  });

  afterAll(async () => {
    await target.close();
  });

  it('is a valid OpenAPI 3 document', () => {
    expect(openApiProblems(doc)).toEqual([]);
    expect(doc.info.title).toBe('Fingerprint Auth');
  });

  it('is what docs/openapi.json holds (run `npm run openapi` after changing a route)', async () => {
    const generated = serialiseDocument(await generateOpenApiDocument());
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(generated);
    // The committed file is a production deployment's: secure cookie names.
    expect(generated).toContain('__Host-Fgp');
    expect(openApiProblems(JSON.parse(generated))).toEqual([]);
  });

  it('catches the mistakes it checks for', () => {
    const broken = JSON.parse(JSON.stringify(doc));
    broken.paths['/auth/me'].get.responses['200'].description = '';
    broken.paths['/sessions/{sessionId}'].delete.parameters = [];
    broken.paths['/sessions'].get.responses['200'].content['application/json'].schema.$ref =
      '#/components/schemas/Nope';
    expect(openApiProblems(broken)).toHaveLength(3);
  });

  it('declares the bearer token, the fingerprint cookie and the refresh cookie', () => {
    expect(doc.components.securitySchemes).toEqual({
      bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
      fingerprint: expect.objectContaining({ type: 'apiKey', in: 'cookie', name: '__Host-Fgp' }),
      refresh: expect.objectContaining({
        type: 'apiKey',
        in: 'cookie',
        name: '__Secure-Fpa-Refresh',
      }),
    });
  });

  it.each(CONTRACT)(
    'documents %s %s with exactly its statuses, their codes and its security',
    (method, path, statuses, access) => {
      const operation = doc.paths[path]?.[method];
      expect(operation).toBeDefined();
      const documented = Object.fromEntries(
        Object.entries<any>(operation.responses).map(([status, response]) => {
          const schema = response.content?.['application/json']?.schema ?? {};
          const refinement = (schema.allOf ?? []).find((part: any) => part.properties?.code);
          return [status, refinement?.properties.code.enum ?? []];
        }),
      );
      expect(documented).toEqual(statuses);
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        if (Number(status) >= 400 && !path.startsWith('/health')) {
          // One error shape for all, narrowed to the codes this answer can carry.
          const schema = response.content['application/json'].schema;
          const codes: string[] = statuses[status];
          expect(schema).toEqual(
            codes.length === 0
              ? { $ref: '#/components/schemas/ErrorResponseDto' }
              : {
                  allOf: [
                    { $ref: '#/components/schemas/ErrorResponseDto' },
                    {
                      type: 'object',
                      required: ['code'],
                      properties: { code: { type: 'string', enum: codes } },
                    },
                  ],
                },
          );
          const retryAfter = response.headers?.['Retry-After'];
          if (status === '429' || status === '503') {
            expect(retryAfter).toEqual({
              description: expect.any(String),
              schema: { type: 'integer', minimum: 1 },
            });
          } else {
            expect(retryAfter).toBeUndefined();
          }
        }
      }
      if (access === 'guarded') expect(operation.security).toEqual(GUARDED);
      if (access === 'refresh') expect(operation.security).toEqual([{ refresh: [] }]);
      if (access === 'public') expect(operation.security ?? []).toEqual([]);
    },
  );

  it('lists in the shared error shape every code the server sends', () => {
    const everyCode = CONTRACT.flatMap(([, , statuses]) => Object.values(statuses).flat());
    expect(doc.components.schemas.ErrorResponseDto.properties.code.enum).toEqual([...ERROR_CODES]);
    expect([...new Set(everyCode)].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('lists no route outside the contract', () => {
    const documented = Object.entries<any>(doc.paths).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((method) => METHODS.includes(method))
        .map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual(CONTRACT.map(([method, path]) => `${method} ${path}`).sort());
  });

  it('describes the bodies: requests, the sessions list with device and location, alerts, errors', () => {
    const schemas = doc.components.schemas;
    const body = (path: string) =>
      doc.paths[path].post.requestBody.content['application/json'].schema.$ref;
    expect(body('/auth/register')).toBe('#/components/schemas/RegisterDto');
    expect(body('/auth/login')).toBe('#/components/schemas/LoginDto');
    expect(body('/auth/password')).toBe('#/components/schemas/ChangePasswordDto');
    expect(schemas.RegisterDto.required).toEqual(['email', 'password']);
    expect(schemas.ChangePasswordDto.properties.newPassword).toMatchObject({
      minLength: 8,
      maxLength: 128,
    });

    const ok = (method: string, path: string, status = '200') =>
      doc.paths[path][method].responses[status].content['application/json'].schema.$ref;
    expect(ok('post', '/auth/login')).toBe('#/components/schemas/TokenResponseDto');
    expect(ok('post', '/auth/refresh')).toBe('#/components/schemas/TokenResponseDto');
    expect(ok('post', '/auth/register', '201')).toBe('#/components/schemas/UserResponseDto');
    expect(ok('get', '/auth/me')).toBe('#/components/schemas/MeResponseDto');
    expect(ok('get', '/sessions')).toBe('#/components/schemas/SessionListDto');
    expect(ok('get', '/sessions/alerts')).toBe('#/components/schemas/AlertListDto');
    expect(schemas.TokenResponseDto.required).toEqual(
      expect.arrayContaining([
        'accessToken',
        'tokenType',
        'expiresIn',
        'sessionId',
        'sessionExpiresAt',
      ]),
    );

    expect(schemas.SessionListDto.properties.sessions).toEqual(
      expect.objectContaining({
        type: 'array',
        items: { $ref: '#/components/schemas/SessionEntryDto' },
      }),
    );
    const entry = schemas.SessionEntryDto;
    expect(entry.required).toEqual(
      expect.arrayContaining([
        'id',
        'current',
        'device',
        'location',
        'userAgent',
        'ipAddress',
        'createdAt',
        'lastActivity',
        'expiresAt',
      ]),
    );
    expect(entry.properties.device.allOf ?? [entry.properties.device]).toContainEqual({
      $ref: '#/components/schemas/DeviceDto',
    });
    expect(entry.properties.location).toMatchObject({
      nullable: true,
      allOf: [{ $ref: '#/components/schemas/LocationDto' }],
    });
    expect(schemas.LocationDto.required).toEqual(['country', 'countryName']);
    expect(Object.keys(schemas.LocationDto.properties).sort()).toEqual([
      'city',
      'country',
      'countryName',
      'region',
    ]);
    expect(schemas.DeviceDto.properties.type.enum).toEqual([
      'desktop',
      'mobile',
      'tablet',
      'bot',
      'unknown',
    ]);
    expect(schemas.AlertDto.properties.code.enum).toEqual(
      expect.arrayContaining(['TOO_MANY_SESSIONS', 'MANY_IP_ADDRESSES', 'NEW_COUNTRY']),
    );

    expect(schemas.ErrorResponseDto.required).toEqual(['statusCode', 'message', 'error']);
    expect(Object.keys(schemas.ErrorResponseDto.properties).sort()).toEqual([
      'code',
      'error',
      'message',
      'statusCode',
    ]);
  });

  it('serves the UI at /docs as HTML, publicly, under the CSP', async () => {
    const page = await target.inject({ method: 'GET', url: '/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.body).toContain('swagger-ui');
    expect(page.headers['content-security-policy']).toContain("script-src 'self' 'unsafe-inline'");
    // helmet's headers for a page, not the API's (which allow no script at all).
    expect(page.headers).toMatchObject({
      'x-frame-options': 'SAMEORIGIN',
      'cross-origin-opener-policy': 'same-origin',
      'x-content-type-options': 'nosniff',
    });
    const script = await target.inject({ method: 'GET', url: '/docs/swagger-ui-init.js' });
    expect(script.statusCode).toBe(200);
    expect(script.body).toContain('"openapi"');
  });
});
