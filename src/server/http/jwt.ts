import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { TENANT_NAME_PATTERN, TokenConfigError } from "./tokens.js";

export interface JwtOptions {
  issuer: string;
  /** Where the issuer publishes its signing keys (default `${issuer}/.well-known/jwks.json`). */
  jwksUrl: string;
  /**
   * The audience tokens must be issued for. Unset: this server's resource URL, filled in once the server
   * is bound (a bind on port 0 learns its port only then).
   */
  audience?: string;
  /** The claim naming the tenant. */
  tenantClaim: string;
}

export const DEFAULT_TENANT_CLAIM = "tenant";

/** JWT settings from SAV_JWT_ISSUER (+ SAV_JWT_JWKS_URL, SAV_JWT_AUDIENCE, SAV_JWT_TENANT_CLAIM), or undefined. */
export function jwtOptionsFromEnv(env: NodeJS.ProcessEnv): JwtOptions | undefined {
  const issuer = env.SAV_JWT_ISSUER?.trim();
  if (!issuer) return undefined;
  for (const [name, value] of [["SAV_JWT_ISSUER", issuer], ["SAV_JWT_JWKS_URL", env.SAV_JWT_JWKS_URL?.trim()]] as const) {
    if (value && !URL.canParse(value)) throw new TokenConfigError(`${name} '${value}' is not a URL.`);
  }
  return {
    issuer,
    jwksUrl: env.SAV_JWT_JWKS_URL?.trim() || `${issuer.replace(/\/$/, "")}/.well-known/jwks.json`,
    audience: env.SAV_JWT_AUDIENCE?.trim() || undefined,
    tenantClaim: env.SAV_JWT_TENANT_CLAIM?.trim() || DEFAULT_TENANT_CLAIM,
  };
}

export class JwtRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JwtRejected";
  }
}

export interface VerifiedJwt {
  tenant: string;
  expiresAt: number;
  scopes: string[];
  subject?: string;
}

/** Verifies signature (keys from the issuer's JWKS, cached and refreshed by jose), issuer, audience and expiry. */
export function createJwtVerifier(options: JwtOptions & { audience: string }): (token: string) => Promise<VerifiedJwt> {
  const keys = createRemoteJWKSet(new URL(options.jwksUrl));
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        requiredClaims: ["exp"],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new JwtRejected("The access token has expired.");
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw new JwtRejected(`The access token's '${error.claim}' claim is not accepted here.`);
      if (error instanceof joseErrors.JOSEError) throw new JwtRejected("The access token could not be verified.");
      throw error;
    }
    const tenant = payload[options.tenantClaim];
    if (typeof tenant !== "string" || !TENANT_NAME_PATTERN.test(tenant)) {
      throw new JwtRejected(`The access token has no valid '${options.tenantClaim}' claim naming a tenant.`);
    }
    const scope = payload.scope;
    return {
      tenant,
      expiresAt: payload.exp!,
      scopes: typeof scope === "string" ? scope.split(" ").filter(Boolean) : [],
      subject: payload.sub,
    };
  };
}
