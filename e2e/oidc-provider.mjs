// A real OpenID Connect provider for the ProConnect tests: node-oidc-provider (OpenID
// Certified), configured like ProConnect (scopes named after its claims: email, given_name,
// usual_name, siret, uid; `acr` values such as eidas1; the userinfo answer a signed JWT),
// with static clients and a few test accounts. The web tests start it themselves
// (crates/web/tests/integration/proconnect.rs) on a free port of 127.0.0.1 and stop it.
//
// Usage: node e2e/oidc-provider.mjs REDIRECT_URI
// Prints "listening http://127.0.0.1:PORT" once it answers. Its modules come from
// e2e/package-lock.json (scripts/test.sh runs `npm ci` in e2e/).
//
// Clients (secret "secret-de-test-proconnect" for both):
//  - parapheur:        an ordinary client.
//  - parapheur-altere: the same, but the ID token of its token answers has its payload
//    changed after signing (a tampered token the relying party must refuse).
// Accounts: the login form takes an email; each account says its `acr` (and `amr`).

import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const redirectUri = process.argv[2];
if (!redirectUri) {
  console.error('usage: node e2e/oidc-provider.mjs REDIRECT_URI');
  process.exit(2);
}
const SECRET = 'secret-de-test-proconnect';
const MFA = 'https://proconnect.gouv.fr/assurance/consistency-checked-2fa';

const accounts = {
  'agent@a.test': { sub: 'pc-agent-a', given_name: 'Alice', usual_name: 'Agent', siret: '21010004600017', acr: 'eidas1', amr: ['pwd'] },
  'admin@a.test': { sub: 'pc-admin-a', given_name: 'Adèle', usual_name: 'Admin', siret: '21010004600017', acr: 'eidas1', amr: ['pwd'] },
  'admin-mfa@a.test': { sub: 'pc-admin-mfa', given_name: 'Adèle', usual_name: 'Admin', siret: '21010004600017', acr: MFA, amr: ['pwd', 'totp', 'mfa'], email: 'admin@a.test' },
  // agent@a.test again, logged in under another organisation's SIRET (not the commune's).
  'agent-ailleurs@a.test': { sub: 'pc-agent-elsewhere', given_name: 'Alice', usual_name: 'Agent', siret: '13002526500013', acr: 'eidas1', amr: ['pwd'], email: 'agent@a.test' },
  'inconnu@ailleurs.test': { sub: 'pc-unknown', given_name: 'Ivan', usual_name: 'Inconnu', siret: '13002526500013', acr: 'eidas1', amr: ['pwd'] },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' };

const client = (id) => ({
  client_id: id,
  client_secret: SECRET,
  redirect_uris: [redirectUri],
  post_logout_redirect_uris: [new URL('/connexion', redirectUri).href],
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: 'RS256',
  userinfo_signed_response_alg: 'RS256',
});

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [client('parapheur'), client('parapheur-altere')],
    jwks: { keys: [jwk] },
    cookies: { keys: ['cle-de-test-des-cookies-du-fournisseur'] },
    scopes: ['openid', 'email', 'given_name', 'usual_name', 'siret', 'uid'],
    claims: {
      openid: ['sub'],
      email: ['email'],
      given_name: ['given_name'],
      usual_name: ['usual_name'],
      siret: ['siret'],
      uid: ['uid'],
    },
    acrValues: ['eidas1', 'eidas2', 'eidas3', MFA],
    features: {
      devInteractions: { enabled: false },
      jwtUserinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, id) => {
      const entry = Object.entries(accounts).find(([, a]) => a.sub === id);
      if (!entry) return undefined;
      const [login, a] = entry;
      return {
        accountId: id,
        claims: () => ({
          sub: a.sub, email: a.email ?? login, given_name: a.given_name,
          usual_name: a.usual_name, siret: a.siret, uid: a.sub,
        }),
      };
    },
    // No consent screen: the test clients are granted what they ask (as ProConnect's
    // partners are, once registered).
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid email given_name usual_name siret uid');
      await grant.save();
      return grant;
    },
    ttl: { Session: 600, Interaction: 600, Grant: 600 },
  });

  // The tampering client: its ID token's payload says another subject, its signature left.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.body && typeof ctx.body === 'object' && ctx.body.id_token
        && ctx.oidc?.client?.clientId === 'parapheur-altere') {
      const [header, payload, signature] = ctx.body.id_token.split('.');
      const claims = JSON.parse(Buffer.from(payload, 'base64url'));
      claims.sub = 'pc-admin-a';
      ctx.body = { ...ctx.body, id_token: [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.') };
    }
  });

  const callback = provider.callback();
  server.on('request', async (req, res) => {
    const match = req.url.match(/^\/interaction\/([^/?]+)$/);
    if (!match) return callback(req, res);
    try {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(`<!doctype html><title>Connexion de test</title><form method="post" action="/interaction/${details.uid}"><label>Adresse <input name="email"></label><button>Continuer</button></form>`);
        return;
      }
      let body = '';
      for await (const chunk of req) body += chunk;
      const email = new URLSearchParams(body).get('email') ?? '';
      const account = accounts[email];
      if (!account) {
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('compte de test inconnu');
        return;
      }
      await provider.interactionFinished(req, res, {
        login: { accountId: account.sub, acr: account.acr, amr: account.amr },
      }, { mergeWithLastSubmission: false });
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(String(e));
    }
  });
  console.log(`listening ${issuer}`);
});
