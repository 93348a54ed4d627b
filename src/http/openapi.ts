import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { FingerprintService } from '../auth/fingerprint.service';
import { withFingerprintAuth } from './api-docs';

/** The HTTP contract's version: the major of the package (routes change only with a major). */
const DOCUMENT_VERSION = '1';

export const OPENAPI_PATH = 'docs';

/** Serves the OpenAPI UI at /docs and the document at /docs-json (public, like the probes). */
export function setupOpenApi(app: INestApplication): void {
  SwaggerModule.setup(OPENAPI_PATH, app, () => openApiDocument(app), {
    jsonDocumentUrl: `${OPENAPI_PATH}-json`,
    yamlDocumentUrl: `${OPENAPI_PATH}-yaml`,
  });
}

/** The OpenAPI document of an application, as /docs-json serves it (and docs/openapi.json holds). */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const fingerprintCookie = app.get(FingerprintService, { strict: false }).cookieName;
  const config = withFingerprintAuth(
    new DocumentBuilder()
      .setTitle('Fingerprint Auth')
      .setDescription(
        'Short-lived JWT access tokens bound to the browser by a fingerprint cookie, with ' +
          'server-side sessions users can list and end. A guarded request sends both the bearer ' +
          `token and the \`${fingerprintCookie}\` cookie. Errors share one shape: ` +
          '`{statusCode, message, error, code?}`; each response lists the `code`s it can carry. ' +
          'While an instance shuts down, a request on a connection still open may get a bare 503 ' +
          '(reconnect and retry).',
      )
      .setVersion(DOCUMENT_VERSION),
    app,
  ).build();
  return SwaggerModule.createDocument(app, config);
}
