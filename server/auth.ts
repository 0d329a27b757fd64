/**
 * Tokens: JWT signed with HS256 (`jose`), carrying the user (`sub`), the orgs it may read or
 * publish to (`orgs`) and what it may do (`scope`). Only HS256 is accepted, so `alg: none` and
 * key-confusion tricks fail as TOKEN_INVALID.
 *
 * A token that is not valid yet (`nbf` in the future) counts as TOKEN_EXPIRED, as codes.ts says:
 * either way the remedy is the same, get a fresh token.
 */
import type { IncomingMessage } from 'node:http';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { ErrorCode, isName, MAX_TOKEN_LENGTH, StreamError } from '../protocol/index.ts';

export type Scope = 'read' | 'publish' | 'admin';
export const SCOPES: readonly Scope[] = ['read', 'publish', 'admin'];

export interface TokenClaims {
  sub: string;
  orgs: string[];
  scope: Scope[];
  /** Expiry, seconds since the Unix epoch. */
  exp: number;
  nbf?: number;
}

export interface IssueTokenParams {
  sub: string;
  orgs: string[];
  scopes: Scope[];
  ttlSeconds: number;
  /** Not valid before this many seconds from now (tests of `nbf`). */
  notBeforeSeconds?: number;
}

export interface TokenAuthority {
  issueToken(params: IssueTokenParams): Promise<string>;
  /** The claims of a valid token, or a StreamError TOKEN_MISSING / TOKEN_INVALID / TOKEN_EXPIRED. */
  verifyToken(token: string | null | undefined): Promise<TokenClaims | StreamError>;
}

export function isScope(value: unknown): value is Scope {
  return SCOPES.some((scope) => scope === value);
}

/** Signs and verifies this server's tokens with one HS256 secret. */
export function createTokenAuthority(secret: string): TokenAuthority {
  const key = new TextEncoder().encode(secret);
  return {
    async issueToken({ sub, orgs, scopes, ttlSeconds, notBeforeSeconds }) {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({ orgs, scope: scopes })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(sub)
        .setIssuedAt(now)
        .setNotBefore(now + (notBeforeSeconds ?? 0))
        .setExpirationTime(now + ttlSeconds);
      return jwt.sign(key);
    },
    async verifyToken(token) {
      if (!token) return new StreamError(ErrorCode.TOKEN_MISSING, 'no token: send Authorization: Bearer <token> or access_token');
      if (token.length > MAX_TOKEN_LENGTH) return new StreamError(ErrorCode.TOKEN_INVALID, 'the token is too long');
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, key, { algorithms: ['HS256'] }));
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired) {
          return new StreamError(ErrorCode.TOKEN_EXPIRED, 'the token expired: get a fresh one');
        }
        if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'nbf') {
          return new StreamError(ErrorCode.TOKEN_EXPIRED, 'the token is not valid yet: check the clock or get a fresh one');
        }
        return new StreamError(ErrorCode.TOKEN_INVALID, 'the token is not valid: its signature, algorithm or format is wrong');
      }
      const { sub, orgs, scope, exp, nbf } = payload;
      if (
        typeof sub !== 'string' ||
        sub.length === 0 ||
        !Array.isArray(orgs) ||
        !orgs.every(isName) ||
        !Array.isArray(scope) ||
        !scope.every(isScope) ||
        typeof exp !== 'number'
      ) {
        return new StreamError(ErrorCode.TOKEN_INVALID, 'the token lacks sub, orgs, scope or exp');
      }
      const claims: TokenClaims = { sub, orgs: [...orgs], scope: [...scope], exp };
      if (typeof nbf === 'number') claims.nbf = nbf;
      return claims;
    },
  };
}

/** A MISSING_SCOPE error when `claims` lacks `scope`, else null. */
export function requireScope(claims: TokenClaims, scope: Scope): StreamError | null {
  return claims.scope.includes(scope)
    ? null
    : new StreamError(ErrorCode.MISSING_SCOPE, `the token lacks the "${scope}" scope`);
}

/** A FORBIDDEN_ORG error when `claims` does not grant `org`, else null. */
export function requireOrg(claims: TokenClaims, org: string): StreamError | null {
  return claims.orgs.includes(org) ? null : new StreamError(ErrorCode.FORBIDDEN_ORG, `the token does not grant org "${org}"`);
}

/** The subprotocol a v2 client must offer; the server answers with it, never with the token. */
export const STREAM_SUBPROTOCOL = 'realtime.v2';
const BEARER_PROTOCOL_PREFIX = 'bearer.';

/** Splits a `Sec-WebSocket-Protocol` header into its values. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return [];
  return header
    .split(',')
    .map((value) => value.trim())
    .filter((value) => value.length > 0);
}

/**
 * The token a request carries: `Authorization: Bearer`, then (for upgrades) a `bearer.<JWT>`
 * subprotocol, then the `access_token` query parameter. Null when there is none.
 */
export function tokenFromRequest(req: IncomingMessage, url: URL, options: { allowQuery: boolean; allowProtocol: boolean }): string | null {
  const authorization = req.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (match) return match[1] ?? null;
  }
  if (options.allowProtocol) {
    for (const protocol of offeredProtocols(req)) {
      if (protocol.startsWith(BEARER_PROTOCOL_PREFIX)) return protocol.slice(BEARER_PROTOCOL_PREFIX.length);
    }
  }
  if (options.allowQuery) {
    const token = url.searchParams.get('access_token');
    if (token) return token;
  }
  return null;
}
