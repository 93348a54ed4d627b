import { startApp, TestApp } from './support/app';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const GUARDED = [{ bearer: [], fingerprint: [] }];

/** The HTTP contract (DESIGN.md): every route, its documented statuses and who may call it. */
const CONTRACT: Array<[string, string, string[], 'public' | 'guarded' | 'refresh']> = [
  ['post', '/auth/register', ['201', '400', '409', '429', '503'], 'public'],
  ['post', '/auth/login', ['200', '400', '401', '409', '429', '503'], 'public'],
  ['post', '/auth/refresh', ['200', '401', '429', '503'], 'refresh'],
  ['post', '/auth/logout', ['204', '401'], 'guarded'],
  ['get', '/auth/me', ['200', '401'], 'guarded'],
  ['post', '/auth/password', ['200', '400', '401', '403', '429'], 'guarded'],
  ['delete', '/account', ['204', '400', '401', '403', '429', '503'], 'guarded'],
  ['get', '/sessions', ['200', '401'], 'guarded'],
  ['delete', '/sessions/{sessionId}', ['204', '401', '404'], 'guarded'],
  ['post', '/sessions/logout-all', ['200', '401'], 'guarded'],
  ['get', '/sessions/alerts', ['200', '401'], 'guarded'],
  ['get', '/health/live', ['200'], 'public'],
  ['get', '/health/ready', ['200', '503'], 'public'],
  ['get', '/metrics', ['200'], 'public'],
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
    'documents %s %s with its responses and security',
    (method, path, statuses, access) => {
      const operation = doc.paths[path]?.[method];
      expect(operation).toBeDefined();
      expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(statuses));
      for (const [status, response] of Object.entries<any>(operation.responses)) {
        if (Number(status) >= 400 && !path.startsWith('/health')) {
          expect(response.content['application/json'].schema).toEqual({
            $ref: '#/components/schemas/ErrorResponseDto',
          });
        }
      }
      if (access === 'guarded') expect(operation.security).toEqual(GUARDED);
      if (access === 'refresh') expect(operation.security).toEqual([{ refresh: [] }]);
      if (access === 'public') expect(operation.security ?? []).toEqual([]);
    },
  );

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
    const script = await target.inject({ method: 'GET', url: '/docs/swagger-ui-init.js' });
    expect(script.statusCode).toBe(200);
    expect(script.body).toContain('"openapi"');
  });
});
