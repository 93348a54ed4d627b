import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { FingerprintService } from '../auth/fingerprint.service';
import { RefreshCredentialService } from '../auth/refresh-credential.service';
import { BEARER_SCHEME, FINGERPRINT_SCHEME, REFRESH_SCHEME } from './api-docs';

export const OPENAPI_PATH = 'docs';

/** Serves the OpenAPI UI at /docs and the document at /docs-json (public, like the probes). */
export function setupOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup(OPENAPI_PATH, app, () => openApiDocument(app), {
    jsonDocumentUrl: `${OPENAPI_PATH}-json`,
    yamlDocumentUrl: `${OPENAPI_PATH}-yaml`,
  });
}

/** The OpenAPI document of an application, as /docs-json serves it. */
export function openApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const fingerprintCookie = app.get(FingerprintService, { strict: false }).cookieName;
  const refreshCookie = app.get(RefreshCredentialService, { strict: false }).cookieName;
  const config = new DocumentBuilder()
    .setTitle('Fingerprint Auth')
    .setDescription(
      'Short-lived JWT access tokens bound to the browser by a fingerprint cookie, with ' +
        'server-side sessions users can list and end. A guarded request sends both the bearer ' +
        `token and the \`${fingerprintCookie}\` cookie. Errors share one shape: ` +
        '`{statusCode, message, error, code?}`; each response lists the `code`s it can carry. ' +
        'While an instance shuts down, a request on a connection still open may get a bare 503 ' +
        '(reconnect and retry).',
    )
    .setVersion('1')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token' },
      BEARER_SCHEME,
    )
    .addCookieAuth(
      fingerprintCookie,
      {
        type: 'apiKey',
        in: 'cookie',
        name: fingerprintCookie,
        description:
          'HttpOnly fingerprint cookie set at login; its SHA-256 is the token’s `fgp` claim',
      },
      FINGERPRINT_SCHEME,
    )
    .addCookieAuth(
      refreshCookie,
      {
        type: 'apiKey',
        in: 'cookie',
        name: refreshCookie,
        description: 'HttpOnly refresh credential (Path=/auth/refresh), rotated on every use',
      },
      REFRESH_SCHEME,
    )
    .build();
  return SwaggerModule.createDocument(app, config);
}
