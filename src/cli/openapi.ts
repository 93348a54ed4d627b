import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OpenAPIObject } from '@nestjs/swagger';
import { validateEnv } from '../config';
import { createApp } from '../http/bootstrap';
import { openApiDocument } from '../http/openapi';

/** Where the repository keeps the document (the HTTP contract, checked by the e2e suite). */
export const OPENAPI_FILE = join(__dirname, '..', '..', 'docs', 'openapi.json');

/**
 * The service's OpenAPI document as a production deployment serves it (secure cookie names, no
 * route prefix), built without listening, opening nothing on disk but a temp dir.
 */
export async function generateOpenApiDocument(): Promise<OpenAPIObject> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fpa-openapi-'));
  try {
    const config = validateEnv({
      NODE_ENV: 'production',
      JWT_SECRET: randomBytes(32).toString('base64url'),
      DATA_DIR: dataDir,
      DATABASE_URL: 'sqlite::memory:',
      SESSION_SNAPSHOT_PATH: 'off',
      GEOIP: 'off',
      API_DOCS: 'false',
    });
    const app = await createApp(config, { logger: false });
    try {
      await app.init();
      return openApiDocument(app);
    } finally {
      await app.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The document as the file holds it: two-space JSON and a final newline. */
export const serialiseDocument = (document: OpenAPIObject): string =>
  `${JSON.stringify(document, null, 2)}\n`;

if (require.main === module) {
  generateOpenApiDocument().then(
    (document) => {
      const target = process.argv[2] ?? OPENAPI_FILE;
      writeFileSync(target, serialiseDocument(document));
      console.error(`openapi: wrote ${target}`);
    },
    (error: unknown) => {
      console.error(`openapi: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
