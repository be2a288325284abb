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
    await expect(host.widget().getByRole('button', { name: 'Sign in' })).toBeVisible();
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
    await expect(host.widget().getByRole('alert')).toHaveText('Authentication failed');
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
    await expect(host.widget().getByRole('alert')).toContainText('could not reach the sign-in service');
  });

  test('the demo page that `portcullis` serves signs the demo user in', async ({ page }) => {
    await page.goto(`${DEMO_HOST}/`);
    const widget = page.locator('#signin [data-portcullis-widget]');
    await widget.getByLabel('Username').fill(DEMO_LOGIN);
    await widget.getByLabel('Password').fill(DEMO_PASSWORD);
    await widget.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.locator('#result')).toContainText('"status": "SUCCESS"');
    await expect(page.locator('#result')).toContainText(DEMO_LOGIN);
  });
});
