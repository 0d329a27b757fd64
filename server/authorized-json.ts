/**
 * The checks every authenticated JSON endpoint (publish, admin) makes, in this order: the Origin
 * (cross-site requests are refused before any token work), the token, its scope, then a bounded
 * JSON body. One place, so a new endpoint cannot forget a step or do them in another order.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, parseJson, StreamError } from '../protocol/index.ts';
import { requireScope, tokenFromRequest, type Scope, type TokenClaims } from './auth.ts';
import type { ServerContext } from './context.ts';
import { readBody, sendError } from './http-io.ts';
import { isOriginAllowed } from './origin.ts';

export interface AuthorizedJsonRequirements {
  scope: Scope;
  /** Whether `?access_token=` is accepted; publish says no (a token in a URL ends up in proxies' logs). */
  allowQueryToken: boolean;
  maxBodyBytes: number;
  /** What the refusal of a foreign Origin says, e.g. "this Origin may not publish". */
  originRefusal: string;
}

export interface AuthorizedJson {
  claims: TokenClaims;
  body: unknown;
}

/** Runs the checks; the first that fails is returned as a StreamError, nothing is answered yet. */
export async function readAuthorizedJson(
  ctx: ServerContext,
  req: IncomingMessage,
  url: URL,
  requirements: AuthorizedJsonRequirements,
): Promise<AuthorizedJson | StreamError> {
  if (!isOriginAllowed(req, ctx.options.allowedOrigins)) {
    return new StreamError(ErrorCode.ORIGIN_NOT_ALLOWED, requirements.originRefusal);
  }
  const claims = await ctx.auth.verifyToken(
    tokenFromRequest(req, url, { allowQuery: requirements.allowQueryToken, allowProtocol: false }),
  );
  if (claims instanceof StreamError) return claims;
  const scopeError = requireScope(claims, requirements.scope);
  if (scopeError) return scopeError;
  let text: string;
  try {
    text = await readBody(req, requirements.maxBodyBytes);
  } catch (error) {
    return error instanceof StreamError ? error : new StreamError(ErrorCode.BAD_MESSAGE, 'the body could not be read');
  }
  const json = parseJson(text);
  if (!json.ok) return json.error;
  return { claims, body: json.value };
}

/** Answers a refused request with its code, counted in the metrics' `rejected`. */
export function refuseRequest(ctx: ServerContext, res: ServerResponse, error: StreamError): void {
  ctx.metrics.rejected(error.code);
  sendError(res, error);
}
