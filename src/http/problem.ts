import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ERROR_CODES, type ErrorCode, type ErrorDetail } from '../lib/errors.js';

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  423: 'Locked',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  request_id: string;
  errors?: ErrorDetail[];
}

export function problem(
  request: FastifyRequest,
  code: ErrorCode,
  detail: string,
  errors?: ErrorDetail[],
): ProblemBody {
  const status = ERROR_CODES[code];
  return {
    type: `urn:herald:problem:${code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    detail,
    request_id: request.id,
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, body: ProblemBody): FastifyReply {
  return reply.code(body.status).type('application/problem+json').send(body);
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns Ajv's output into messages a person can act on, with the path to the field. */
function describeValidation(context: string | undefined, errors: AjvError[]): ErrorDetail[] {
  const where = context ?? 'body';
  return errors.map((error) => {
    const path = `/${where}${error.instancePath}`;
    if (error.keyword === 'additionalProperties') {
      const field = String(error.params.additionalProperty);
      return { path: `${path}/${field}`, message: `unknown field "${field}"` };
    }
    if (error.keyword === 'required') {
      const field = String(error.params.missingProperty);
      return { path: `${path}/${field}`, message: `"${field}" is required` };
    }
    if (error.keyword === 'enum') {
      const allowed = (error.params.allowedValues as unknown[] | undefined)
        ?.map((v) => JSON.stringify(v))
        .join(', ');
      return { path, message: `must be one of ${allowed}` };
    }
    return { path, message: error.message ?? 'is invalid' };
  });
}

/** Maps any error thrown while handling a request to a problem body; the only place that does. */
export function toProblem(request: FastifyRequest, error: FastifyError | DomainError | Error): ProblemBody {
  if (error instanceof DomainError) return problem(request, error.code, error.message, error.details);
  const fastifyError = error as FastifyError & { validation?: AjvError[] };
  if (fastifyError.validation) {
    const errors = describeValidation(fastifyError.validationContext, fastifyError.validation);
    const summary = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    return problem(request, 'VALIDATION_FAILED', `The request is invalid: ${summary}`, errors);
  }
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(request, 'PAYLOAD_TOO_LARGE', 'The request body is larger than this endpoint accepts.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(
        request,
        'UNSUPPORTED_MEDIA_TYPE',
        `Content-Type "${request.headers['content-type'] ?? ''}" is not accepted here; send application/json.`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem(request, 'VALIDATION_FAILED', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem(
        request,
        'VALIDATION_FAILED',
        `The request body is not valid JSON: ${fastifyError.message}`,
      );
  }
  if (fastifyError.statusCode === 429) {
    return problem(request, 'RATE_LIMITED', fastifyError.message);
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return problem(request, 'VALIDATION_FAILED', `The request body is not valid JSON: ${error.message}`);
  }
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    const code = (Object.keys(ERROR_CODES) as ErrorCode[]).find(
      (c) => ERROR_CODES[c] === fastifyError.statusCode,
    );
    return problem(request, code ?? 'VALIDATION_FAILED', fastifyError.message);
  }
  return problem(
    request,
    'INTERNAL',
    'Something went wrong on our side. The request id identifies it in the logs.',
  );
}
