#!/usr/bin/env bash
# A second, richer oidc-provider 9.13 on http://127.0.0.1:18093 for the checks the shared peer
# (../shared/peers/start-oidc-provider.sh, one client) cannot reach: a public client with rotating
# refresh tokens, a second confidential client, and RFC 7591/7592 dynamic registration with an
# initial access token. Same package, same signing key; config generated here. Stop: kill "$(cat /tmp/peers/oidc-provider-full.pid)".
set -euo pipefail
PEERS=${PEERS:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/peers}
. "$PEERS/lib.sh"
NAME=oidc-provider-full PORT=18093
running $NAME && { echo "$NAME already running (pid $(cat $P/$NAME.pid))"; exit 0; }
port_free $PORT
[ -d "$P/node/node_modules/oidc-provider" ] || "$PEERS/install.sh"
[ -s "$P/keys/private.jwk.json" ] || "$PEERS/gen-keys.sh"
cat > "$P/node/oidc-provider-full.mjs" <<'JS'
import Provider, { errors } from 'oidc-provider';
import { readFileSync } from 'node:fs';

const ISSUER = 'http://127.0.0.1:18093';
const RESOURCE = 'api://beds';
const provider = new Provider(ISSUER, {
  clients: [
    { client_id: 'peers-client', client_secret: 'peers-secret', token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials', 'authorization_code', 'refresh_token'], response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:18099/callback'], scope: 'openid offline_access beds:read' },
    { client_id: 'other-client', client_secret: 'other-secret', token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:18099/other'], scope: 'openid offline_access beds:read' },
    { client_id: 'spa-client', token_endpoint_auth_method: 'none', application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:18099/spa'], scope: 'openid offline_access beds:read' },
  ],
  jwks: { keys: [JSON.parse(readFileSync('/tmp/peers/keys/private.jwk.json', 'utf8'))] },
  cookies: { keys: ['conformance-cookie-key-not-secret'] },
  scopes: ['openid', 'offline_access', 'beds:read'],
  pkce: { required: () => true },
  ttl: { AccessToken: 3600, ClientCredentials: 3600, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 86400, Grant: 86400, Session: 86400, Interaction: 600 },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    registration: { enabled: true, initialAccessToken: 'conformance-initial-access-token' },
    registrationManagement: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) throw new errors.InvalidTarget();
        return { scope: 'beds:read', audience: RESOURCE, accessTokenFormat: 'jwt', accessTokenTTL: 3600, jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(18093, '127.0.0.1', () => console.log(`oidc-provider (full) ${ISSUER} listening`));
JS
cd "$P/node"
NODE_ENV=production nohup node oidc-provider-full.mjs >"$P/logs/$NAME.log" 2>&1 </dev/null &
echo $! > "$P/$NAME.pid"
wait_port $PORT
echo "$NAME on http://127.0.0.1:$PORT (pid $(cat $P/$NAME.pid))"
