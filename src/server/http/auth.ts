import type { RequestHandler } from "express";
import { InvalidTokenError, ServerError } from "@modelcontextprotocol/sdk/server/auth/errors.js";
import { requireBearerAuth } from "@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js";
import type { OAuthTokenVerifier } from "@modelcontextprotocol/sdk/server/auth/provider.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { createJwtVerifier, JwtRejected, type JwtOptions } from "./jwt.js";
import { tenantForToken, type TokenEntry } from "./tokens.js";

export const PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";
/** Static tokens do not expire; the SDK's bearer middleware wants an expiry, so each check grants this long. */
const STATIC_TOKEN_VALIDITY_SECONDS = 3600;

export interface AuthSettings {
  tokens: TokenEntry[];
  jwt?: JwtOptions;
}

export function authConfigured(settings: AuthSettings): boolean {
  return settings.tokens.length > 0 || settings.jwt !== undefined;
}

function looksLikeJwt(token: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token);
}

/** Static tokens first (a digest compare), then JWT validation when an issuer is configured. */
export function createTokenVerifier(settings: AuthSettings, resource: string): OAuthTokenVerifier {
  const verifyJwt = settings.jwt ? createJwtVerifier({ ...settings.jwt, audience: settings.jwt.audience ?? resource }) : undefined;
  return {
    async verifyAccessToken(token: string): Promise<AuthInfo> {
      const tenant = tenantForToken(settings.tokens, token);
      if (tenant !== undefined) {
        return {
          token,
          clientId: tenant,
          scopes: [],
          expiresAt: Math.floor(Date.now() / 1000) + STATIC_TOKEN_VALIDITY_SECONDS,
          extra: { tenant },
        };
      }
      if (verifyJwt && looksLikeJwt(token)) {
        try {
          const verified = await verifyJwt(token);
          return {
            token,
            clientId: verified.subject ?? verified.tenant,
            scopes: verified.scopes,
            expiresAt: verified.expiresAt,
            extra: { tenant: verified.tenant },
          };
        } catch (error) {
          if (error instanceof JwtRejected) throw new InvalidTokenError(error.message);
          // The issuer's key endpoint is down or unreachable: the server's problem, not the client's token.
          throw new ServerError("The token issuer's keys could not be fetched; try again later.");
        }
      }
      throw new InvalidTokenError("The bearer token is not valid for this server.");
    },
  };
}

/** The tenant the auth middleware attached to a request. */
export function tenantOf(auth: AuthInfo | undefined): string | undefined {
  const tenant = auth?.extra?.tenant;
  return typeof tenant === "string" ? tenant : undefined;
}

/**
 * 401 + WWW-Authenticate (pointing at the protected resource metadata) for missing or wrong tokens.
 * `resource` is the MCP endpoint's URL as bound (or public): the JWT audience unless one is configured.
 */
export function bearerAuth(settings: AuthSettings, resource: string, resourceMetadataUrl: string): RequestHandler {
  return requireBearerAuth({ verifier: createTokenVerifier(settings, resource), resourceMetadataUrl });
}

/** RFC 9728 metadata, as the MCP authorization spec asks of a resource server. */
export function protectedResourceMetadata(settings: AuthSettings, resource: string): Record<string, unknown> {
  return {
    resource,
    ...(settings.jwt ? { authorization_servers: [settings.jwt.issuer] } : {}),
    bearer_methods_supported: ["header"],
    resource_name: "sav-mcp",
  };
}
