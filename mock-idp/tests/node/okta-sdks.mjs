// Okta's own client libraries against mock-idp, unchanged and with default
// settings (an https issuer, trusted through NODE_EXTRA_CA_CERTS).
// Run by mock-idp/tests/mock_idp/okta_sdks.rs; prints one "ok <check>" line
// per passing check and exits non-zero on the first failure.
import OktaJwtVerifier from '@okta/jwt-verifier';
import { OktaAuth } from '@okta/okta-auth-js';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
};
const issuer = env('ISSUER');
const service = { id: env('SERVICE_CLIENT_ID'), secret: env('SERVICE_CLIENT_SECRET') };
const spa = { id: env('SPA_CLIENT_ID'), redirectUri: env('SPA_REDIRECT_URI') };
const user = { username: env('USERNAME'), password: env('PASSWORD') };

const ok = (check) => console.log(`ok ${check}`);
const fail = (check, error) => {
  console.log(`FAIL ${check}: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
};
const step = async (check, fn) => {
  try {
    const result = await fn();
    ok(check);
    return result;
  } catch (error) {
    fail(check, error);
  }
};

// 1. @okta/jwt-verifier verifies a client_credentials access token.
const verifier = new OktaJwtVerifier({ issuer });
const cc = await step('client_credentials token from the token endpoint', async () => {
  const response = await fetch(`${issuer}/v1/token`, {
    method: 'POST',
    headers: {
      authorization: 'Basic ' + Buffer.from(`${service.id}:${service.secret}`).toString('base64'),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=beds.read',
  });
  if (response.status !== 200) throw new Error(`status ${response.status}: ${await response.text()}`);
  return response.json();
});
await step('jwt-verifier verifyAccessToken (client_credentials)', async () => {
  const jwt = await verifier.verifyAccessToken(cc.access_token, 'api://default');
  if (jwt.claims.cid !== service.id) throw new Error(`cid ${jwt.claims.cid}`);
  if (!jwt.claims.scp.includes('beds.read')) throw new Error(`scp ${jwt.claims.scp}`);
});
await step('jwt-verifier rejects a token for another audience', async () => {
  try {
    await verifier.verifyAccessToken(cc.access_token, 'api://someone-else');
  } catch (error) {
    return;
  }
  throw new Error('accepted a token for the wrong audience');
});

// 2. @okta/okta-auth-js: authn (sessionToken) + authorization code with PKCE.
const authClient = new OktaAuth({
  issuer,
  clientId: spa.id,
  redirectUri: spa.redirectUri,
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  pkce: true,
  tokenManager: { storage: 'memory' },
  storageManager: { token: { storageType: 'memory' }, transaction: { storageType: 'memory' } },
});
const transaction = await step('okta-auth-js signInWithCredentials (/api/v1/authn)', async () => {
  const tx = await authClient.signInWithCredentials(user);
  if (tx.status !== 'SUCCESS' || !tx.sessionToken) throw new Error(`status ${tx.status}`);
  return tx;
});
const params = await step('okta-auth-js prepareTokenParams (discovery, PKCE S256)', async () => {
  const p = await authClient.token.prepareTokenParams({ responseType: 'code' });
  if (p.codeChallengeMethod !== 'S256') throw new Error(`method ${p.codeChallengeMethod}`);
  return p;
});
let sid; // the session cookie the login leaves
const code = await step('authorize with sessionToken redirects with a code', async () => {
  const url = new URL(`${issuer}/v1/authorize`);
  const query = {
    client_id: spa.id,
    redirect_uri: spa.redirectUri,
    response_type: 'code',
    scope: params.scopes.join(' '),
    state: params.state,
    nonce: params.nonce,
    code_challenge: params.codeChallenge,
    code_challenge_method: params.codeChallengeMethod,
    sessionToken: transaction.sessionToken,
  };
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const response = await fetch(url, { redirect: 'manual' });
  if (response.status !== 302) throw new Error(`status ${response.status}`);
  sid = response.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => c.startsWith('sid='));
  const location = new URL(response.headers.get('location'));
  if (location.searchParams.get('state') !== params.state) throw new Error('state not echoed');
  const value = location.searchParams.get('code');
  if (!value) throw new Error(`no code in ${location}`);
  return value;
});
const tokens = await step('okta-auth-js exchangeCodeForTokens (validates the ID token)', async () => {
  const result = await authClient.token.exchangeCodeForTokens({
    authorizationCode: code,
    codeVerifier: params.codeVerifier,
    redirectUri: spa.redirectUri,
    scopes: params.scopes,
    nonce: params.nonce,
  });
  const { accessToken, idToken, refreshToken } = result.tokens;
  if (!accessToken || !idToken || !refreshToken) throw new Error(`tokens ${Object.keys(result.tokens)}`);
  return result.tokens;
});
await step('okta-auth-js token.verify (signature from the JWKS, claims, at_hash)', async () => {
  await authClient.token.verify(tokens.idToken, { accessToken: tokens.accessToken.accessToken, nonce: params.nonce });
});
await step('okta-auth-js getUserInfo (sub matches the ID token)', async () => {
  const info = await authClient.token.getUserInfo(tokens.accessToken, tokens.idToken);
  if (info.sub !== tokens.idToken.claims.sub) throw new Error(`sub ${info.sub}`);
});
await step('okta-auth-js renewTokensWithRefresh', async () => {
  const renewed = await authClient.token.renewTokensWithRefresh({ scopes: params.scopes }, tokens.refreshToken);
  if (!renewed.accessToken) throw new Error('no access token');
});
await step('jwt-verifier verifyAccessToken (user token)', async () => {
  const jwt = await verifier.verifyAccessToken(tokens.accessToken.accessToken, 'api://default');
  if (jwt.claims.sub !== user.username) throw new Error(`sub ${jwt.claims.sub}`);
});
await step('jwt-verifier verifyIdToken with nonce', async () => {
  const jwt = await verifier.verifyIdToken(tokens.idToken.idToken, spa.id, params.nonce);
  if (!jwt.claims.sub.startsWith('00u')) throw new Error(`sub ${jwt.claims.sub}`);
});
await step('okta-auth-js session.get and closeSession (/api/v1/sessions/me)', async () => {
  if (!sid) throw new Error('the login left no sid cookie');
  // Node has no cookie jar: the browser's cookie goes along as a configured header.
  const browser = new OktaAuth({
    issuer,
    clientId: spa.id,
    redirectUri: spa.redirectUri,
    headers: { Cookie: sid },
    tokenManager: { storage: 'memory' },
    storageManager: { token: { storageType: 'memory' }, transaction: { storageType: 'memory' } },
  });
  const session = await browser.session.get();
  if (session.status !== 'ACTIVE' || session.login !== user.username) {
    throw new Error(`session ${JSON.stringify(session)}`);
  }
  const refreshed = await session.refresh();
  if (refreshed.status !== 'ACTIVE') throw new Error(`refresh ${JSON.stringify(refreshed)}`);
  if (!(await browser.closeSession())) throw new Error('closeSession found no session');
  if (await browser.session.exists()) throw new Error('the session outlived closeSession');
  if (await browser.closeSession()) throw new Error('a closed session closed again');
});
console.log('all checks passed');
