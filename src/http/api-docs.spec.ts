import { HttpStatus } from '@nestjs/common';
import { DECORATORS } from '@nestjs/swagger';
import { ApiError, errorSchema } from './api-docs';

const SHAPE = { $ref: '#/components/schemas/ErrorResponseDto' };
const responsesOf = (target: object) =>
  Reflect.getMetadata(DECORATORS.API_RESPONSE, target) as Record<string, any>;

@ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'Sessions down', ['STORE_UNAVAILABLE'])
class DocumentedController {
  @ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'Store full', ['SESSION_STORE_FULL'])
  @ApiError(HttpStatus.TOO_MANY_REQUESTS, 'Slow down', ['RATE_LIMITED'])
  @ApiError(HttpStatus.BAD_REQUEST, 'Bad body')
  @ApiError(HttpStatus.BAD_REQUEST, 'Bad JSON')
  busy() {}

  quiet() {}
}

describe('ApiError', () => {
  it('narrows the shared shape to the codes a response carries, and to none without', () => {
    expect(errorSchema([])).toEqual(SHAPE);
    expect(errorSchema(['RATE_LIMITED'])).toEqual({
      allOf: [
        SHAPE,
        {
          type: 'object',
          required: ['code'],
          properties: { code: { type: 'string', enum: ['RATE_LIMITED'] } },
        },
      ],
    });
  });

  it('adds up the codes of one status declared on the route and on its controller', () => {
    const own = responsesOf(DocumentedController.prototype.busy);
    expect(own[503].schema).toEqual(errorSchema(['SESSION_STORE_FULL', 'STORE_UNAVAILABLE']));
    expect(own[503].description).toBe('Store full\n\nSessions down');
    expect(own[400]).toMatchObject({ description: 'Bad JSON\n\nBad body', schema: SHAPE });
  });

  it('documents Retry-After on 429 and 503 only', () => {
    const own = responsesOf(DocumentedController.prototype.busy);
    expect(Object.keys(own[429].headers)).toEqual(['Retry-After']);
    expect(Object.keys(own[503].headers)).toEqual(['Retry-After']);
    expect(own[400].headers).toBeUndefined();
  });

  it('leaves a route without its own entry to the controller’s', () => {
    expect(responsesOf(DocumentedController.prototype.quiet)).toBeUndefined();
    expect(responsesOf(DocumentedController)[503].schema).toEqual(
      errorSchema(['STORE_UNAVAILABLE']),
    );
  });
});
