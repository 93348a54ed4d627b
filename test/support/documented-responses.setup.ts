import { undocumentedResponsesOfThisFile } from './documented-responses';

/*
 * Set up for every e2e test file (jest.config.js): after the file's tests, each answer its
 * in-process apps gave must be one the OpenAPI document lists for that route.
 */
afterAll(() => {
  const problems = undocumentedResponsesOfThisFile();
  if (problems.length > 0) {
    throw new Error(
      `Answers the OpenAPI document does not list (document them on the route, or fix the ` +
        `server):\n  ${problems.join('\n  ')}`,
    );
  }
});
