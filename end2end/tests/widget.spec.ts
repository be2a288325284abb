import { test, expect } from '@playwright/test';
import { createUser } from './fixtures/users';
import { WidgetHost, SignInPage, failOnPageErrors } from './fixtures/pages';
import { PORTCULLIS, HOST, UNTRUSTED_HOST, DEMO_HOST, DEMO_LOGIN, DEMO_PASSWORD } from './fixtures/env';

test.describe('widget embedded on another origin', () => {
  test('signs in cross-origin and hands the session token and user to the host', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const user = await createUser('widget');
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    await expect(host.widget().getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
    await page.screenshot({ path: test.info().outputPath('widget.png') });
    await host.signIn(user.login, user.password);
    const outcome = await host.outcome();
    expect(outcome.kind).toBe('success');
    expect(outcome.status).toBe('SUCCESS');
    expect(outcome.user.id).toBe(user.id);
    expect(outcome.user.profile.login).toBe(user.login);
    expect(outcome.token.length).toBeGreaterThan(30);
    await expect(host.widget().getByTestId('widget-signed-in')).toContainText(user.login);
    noErrors();
  });

  test('a wrong password is shown inside the widget', async ({ page }) => {
    const user = await createUser('widget-bad');
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    await host.signIn(user.login, 'Wrong-Password-5');
    await expect(host.widget().getByRole('alert')).toHaveText(
      'Unable to sign in. Check your username and password and try again.',
    );
    await expect(page.locator('#outcome')).toHaveText('');
  });

  test('the session token becomes a Portcullis session through setCookieAndRedirect', async ({ page }) => {
    const user = await createUser('widget-cookie');
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS);
    await host.signIn(user.login, user.password);
    await host.outcome();
    await page.evaluate((to) => (window as any).lastResult.session.setCookieAndRedirect(to), `${HOST}/?done=1`);
    await expect(page).toHaveURL(`${HOST}/?done=1`);
    const signIn = new SignInPage(page);
    await signIn.goto();
    await expect(signIn.signedInAs()).toContainText(user.login);
  });

  test('an origin that is not trusted cannot use the widget, and the host is told', async ({ page }) => {
    const user = await createUser('widget-untrusted');
    const host = new WidgetHost(page);
    await host.goto(UNTRUSTED_HOST, PORTCULLIS);
    await host.signIn(user.login, user.password);
    const outcome = await host.outcome();
    expect(outcome.kind).toBe('error');
    await expect(host.widget().getByRole('alert')).toContainText('could not reach the server');
  });

  test('the demo page that `portcullis` serves signs the demo user in and shows verified tokens', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    await page.goto(`${DEMO_HOST}/`);
    const widget = page.locator('#signin [data-portcullis-widget]');
    await widget.getByLabel('Username', { exact: true }).fill(DEMO_LOGIN);
    await widget.getByLabel('Password', { exact: true }).fill(DEMO_PASSWORD);
    await widget.getByRole('button', { name: 'Sign in', exact: true }).click();
    const result = page.locator('#result');
    await expect(result).toContainText(`"email": "${DEMO_LOGIN}"`);
    await expect(result).toContainText(`"iss": "${PORTCULLIS}/oauth2/default"`);
    await expect(result).toContainText('offline_access');
    await page.getByRole('button', { name: 'Renew the tokens with the refresh token' }).click();
    await expect(result).toContainText('Renewed at');
    noErrors();
  });
});

test('events (ready, afterRender, afterError) and branding options behave like Okta\'s widget', async ({ page }) => {
  const user = await createUser('widget-events');
  const host = new WidgetHost(page);
  await host.goto(HOST, PORTCULLIS);
  await expect(host.widget()).toBeVisible();
  await page.evaluate((baseUrl) => {
    const w = window as any;
    w.signIn.remove();
    w.events = [];
    w.branded = new w.PortcullisSignIn({
      baseUrl,
      brandName: 'Acme sign-in',
      logo: 'http://localhost:3902/logo.svg',
      colors: { brand: '#0a7f5a' },
    });
    for (const name of ['ready', 'afterRender', 'afterError']) {
      w.branded.on(name, (context: any, error: any) => w.events.push({ name, context, error: error ?? null }));
    }
    return w.branded.renderEl({ el: '#signin' }, () => {}, () => {});
  }, PORTCULLIS);
  await expect(host.widget().getByRole('heading', { name: 'Acme sign-in' })).toBeVisible();
  await expect(host.widget().locator('img.pcw-logo')).toHaveAttribute('src', 'http://localhost:3902/logo.svg');
  const brand = await host.widget().evaluate((el) => getComputedStyle(el).getPropertyValue('--pc-brand').trim());
  expect(brand).toBe('#0a7f5a');

  await host.signIn(user.login, 'Wrong-Password-4');
  await expect(host.widget().getByRole('alert')).toContainText('Unable to sign in');
  const events = await page.evaluate(() => (window as any).events);
  expect(events.map((e: any) => e.name)).toEqual(['ready', 'afterRender', 'afterError']);
  expect(events[2].context).toEqual({ controller: 'primary-auth' });
  expect(events[2].error).toEqual({ name: 'AuthApiError', message: 'Authentication failed', statusCode: 401 });

  // off() stops delivery.
  await page.evaluate(() => (window as any).branded.off('afterError'));
  await host.signIn(user.login, 'Wrong-Password-5');
  await expect(host.widget().getByRole('alert')).toContainText('Unable to sign in');
  expect((await page.evaluate(() => (window as any).events)).length).toBe(3);
});
