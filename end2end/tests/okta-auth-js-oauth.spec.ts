import { test, expect } from '@playwright/test';
import { createUser } from './fixtures/users';
import { registerSpa } from './fixtures/oauth';
import { SignInPage, failOnPageErrors } from './fixtures/pages';
import { PORTCULLIS, HOST } from './fixtures/env';

const SPA = `${HOST}/okta-auth-js.html`;

async function openSpa(page: import('@playwright/test').Page, clientId: string, issuer: string) {
  // The page is also the redirect URI; it keeps the issuer in sessionStorage for the way back.
  await page.goto(
    `${SPA}?baseUrl=${encodeURIComponent(PORTCULLIS)}&clientId=${clientId}&issuer=${encodeURIComponent(issuer)}`,
  );
  await page.waitForFunction(() => !!(window as any).authClient);
}

// The org authorization server, and the `default` custom server every org has.
for (const server of [
  { name: 'the org authorization server', issuer: PORTCULLIS, path: '/oauth2/v1', audience: PORTCULLIS },
  { name: 'the default custom server', issuer: `${PORTCULLIS}/oauth2/default`, path: '/oauth2/default/v1', audience: 'api://default' },
]) test.describe(`@okta/okta-auth-js OAuth against ${server.name}`, () => {
  test('getWithoutPrompt with a sessionToken: hidden iframe, okta_post_message, PKCE, verified tokens', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const { client_id } = await registerSpa(SPA);
    const user = await createUser('silent');
    await openSpa(page, client_id, server.issuer);
    const result = await page.evaluate(async ({ username, password }) => {
      const auth = (window as any).authClient;
      const tx = await auth.signInWithCredentials({ username, password });
      const frames: string[] = [];
      const observer = new MutationObserver(() => {
        document.querySelectorAll('iframe').forEach((f) => frames.push(f.src));
      });
      observer.observe(document.body, { childList: true });
      const { tokens } = await auth.token.getWithoutPrompt({
        sessionToken: tx.sessionToken,
        responseType: 'code',
        scopes: ['openid', 'email', 'profile'],
      });
      observer.disconnect();
      // The public client revokes as okta-auth-js does (Basic base64(client_id), no colon);
      // userinfo then refuses the token.
      const before = await auth.token.getUserInfo(tokens.accessToken, tokens.idToken);
      await auth.revokeAccessToken(tokens.accessToken);
      const after = await auth.token
        .getUserInfo(tokens.accessToken, tokens.idToken)
        .then(() => 'still accepted', (e: any) => e.name);
      return {
        userinfoBefore: before.email,
        userinfoAfter: after,
        email: tokens.idToken.claims.email,
        sub: tokens.idToken.claims.sub,
        scopes: tokens.accessToken.scopes,
        aud: auth.token.decode(tokens.accessToken.accessToken).payload.aud,
        iss: tokens.idToken.claims.iss,
        frame: frames[0] ?? '',
        leftOver: document.querySelectorAll('iframe').length,
      };
    }, { username: user.login, password: user.password });
    expect(result.email).toBe(user.login);
    expect(result.userinfoBefore).toBe(user.login);
    expect(result.userinfoAfter).not.toBe('still accepted');
    expect(result.sub).toBe(user.id);
    expect(result.scopes).toEqual(expect.arrayContaining(['openid', 'email', 'profile']));
    expect(result.frame).toContain(`${server.path}/authorize?`);
    expect(result.aud).toBe(server.audience);
    expect(result.iss).toBe(server.issuer);
    expect(result.frame).toContain('response_mode=okta_post_message');
    expect(result.frame).toContain('prompt=none');
    expect(result.leftOver).toBe(0);
    noErrors();
  });

  test('getWithoutPrompt with no session ends in login_required', async ({ page }) => {
    const { client_id } = await registerSpa(SPA);
    await openSpa(page, client_id, server.issuer);
    const error = await page.evaluate(async () => {
      try {
        await (window as any).authClient.token.getWithoutPrompt({ responseType: 'code', scopes: ['openid'] });
        return null;
      } catch (e: any) {
        return { name: e.name, errorCode: e.errorCode };
      }
    });
    expect(error).toEqual({ name: 'OAuthError', errorCode: 'login_required' });
  });

  test('getWithRedirect, the hosted sign-in page, then parseFromUrl', async ({ page }) => {
    const { client_id } = await registerSpa(SPA);
    const user = await createUser('redirect');
    await openSpa(page, client_id, server.issuer);
    await page.evaluate(() =>
      (window as any).authClient.token.getWithRedirect({ responseType: 'code', scopes: ['openid', 'email'] }),
    );
    await page.waitForURL(/\/login\?fromURI=/);
    const signIn = new SignInPage(page);
    await signIn.signIn(user.login, user.password);
    await page.waitForURL((url) => url.href.startsWith(SPA) && url.searchParams.has('code'));
    await page.waitForFunction(() => !!(window as any).authClient);
    const claims = await page.evaluate(async () => {
      const { tokens } = await (window as any).authClient.token.parseFromUrl();
      return tokens.idToken.claims;
    });
    expect(claims.email).toBe(user.login);
    expect(claims.iss).toBe(server.issuer);
    expect(claims.aud).toBe(client_id);
  });
});
