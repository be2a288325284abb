import { test, expect, type Browser, type Page } from '@playwright/test';
import { SignInPage, WidgetHost, expectAccessible, failOnPageErrors } from './fixtures/pages';
import { waitForLinkToken } from './fixtures/mail';
import { PORTCULLIS, HOST } from './fixtures/env';

// Self-service registration as a new person meets it: the sign-up form (hosted, in the
// Portcullis widget, in Okta's own widget), the emailed link that proves the address, the
// password chosen under the policy, and signing in with it.

/** An address nobody has used in this run. */
function newAddress(tag: string) {
  return `${tag}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@signup.test`;
}

/** Follows the emailed link on the hosted pages and chooses `password`; signed in after. */
async function activateFromEmail(page: Page, email: string, password: string) {
  const token = await waitForLinkToken(email, '/signin/activate/');
  await page.goto(`${PORTCULLIS}/signin/activate/${token}`);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('New password', { exact: true }).fill(password);
  await page.getByLabel('Repeat the new password').fill(password);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByTestId('signed-in-user')).toContainText(email);
}

async function signUpHosted(page: Page, email: string) {
  await page.goto('/login');
  await page.getByRole('link', { name: 'New here? Create an account' }).click();
  await expect(page.getByRole('heading', { name: 'Create an account' })).toBeVisible();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('First name').fill('Ada');
  await page.getByLabel('Last name').fill('Lovelace');
  await page.getByLabel('Department').fill('Engines');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
}

async function withoutJavaScript(browser: Browser, run: (page: Page) => Promise<void>) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  try {
    await run(await context.newPage());
  } finally {
    await context.close();
  }
}

test.describe('self-service registration', () => {
  test('a person signs up on the hosted page, follows the link, chooses a password and signs in', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const email = newAddress('hosted');
    await page.goto('/signin/register');
    await expectAccessible(page);
    await signUpHosted(page, email);
    await expectAccessible(page);
    await activateFromEmail(page, email, 'Copper-Lantern-51');
    // The password works from a fresh browser too.
    await page.context().clearCookies();
    const signIn = new SignInPage(page);
    await signIn.goto();
    await signIn.signIn(email, 'Copper-Lantern-51');
    await expect(signIn.signedInAs()).toContainText(email);
    noErrors();
  });

  test('the whole sign-up works without JavaScript', async ({ browser }) => {
    await withoutJavaScript(browser, async (page) => {
      const email = newAddress('nojs');
      await signUpHosted(page, email);
      await activateFromEmail(page, email, 'Copper-Lantern-52');
    });
  });

  test('a bad address is refused on the form, with what was typed kept', async ({ page }) => {
    await withoutJavaScript(page.context().browser()!, async (plain) => {
      await plain.goto(`${PORTCULLIS}/signin/register`);
      await plain.getByLabel('Email').fill('not-an-address');
      await plain.getByLabel('First name').fill('Kept');
      await plain.getByLabel('Last name').fill('Typed');
      // The browser's own check would stop the post; the server's answer is what is tested.
      await plain.locator('form').evaluate((f) => f.setAttribute('novalidate', ''));
      await plain.getByRole('button', { name: 'Create account' }).click();
      await expect(plain.getByRole('alert')).toBeVisible();
      await expect(plain.getByLabel('First name')).toHaveValue('Kept');
    });
  });

  test('the Portcullis widget on another origin signs a person up, who then signs in there', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const email = newAddress('widget');
    const host = new WidgetHost(page);
    await host.goto(HOST, PORTCULLIS, { features: { registration: true } });
    const w = host.widget();
    await w.getByTestId('widget-sign-up').click();
    await expect(w.getByRole('heading', { name: 'Create an account' })).toBeVisible();
    // Nothing is sent while a required field is empty.
    await w.getByRole('button', { name: 'Create account' }).click();
    await expect(w.getByRole('alert')).toBeVisible();
    await w.getByLabel('Email').fill(email);
    await w.getByLabel('First name').fill('Grace');
    await w.getByLabel('Last name').fill('Hopper');
    await w.getByLabel('Department').fill('Compilers');
    await w.getByRole('button', { name: 'Create account' }).click();
    await expect(w.getByTestId('widget-notice')).toContainText('An email with a link is on its way');
    expect(await page.evaluate(() => (window as any).rendered)).toContain('registration-complete');

    await activateFromEmail(page, email, 'Copper-Lantern-53');
    await host.goto(HOST, PORTCULLIS);
    await host.signIn(email, 'Copper-Lantern-53');
    expect((await host.outcome()).kind).toBe('success');
    noErrors();
  });

  test("Okta's Sign-In Widget (classic engine) signs a person up from its own form", async ({ page }) => {
    const email = newAddress('okta-widget');
    const query = new URLSearchParams({ baseUrl: PORTCULLIS, registration: '1' });
    await page.goto(`${HOST}/okta-widget.html?${query}`);
    await page.getByRole('link', { name: 'Sign up' }).click();
    // Okta's widget builds the form from /api/v1/registration/form.
    const form = page.locator('.registration');
    await expect(form.locator('input[name=email]')).toBeVisible();
    await form.locator('input[name=email]').fill(email);
    await form.locator('input[name=firstName]').fill('Alan');
    await form.locator('input[name=lastName]').fill('Turing');
    await form.locator('input[name=department]').fill('Codebreaking');
    await form.locator('input[type=submit]').click();
    await expect(page.locator('.registration-complete')).toBeVisible();
    // Okta's widget tells the page, as it does against Okta.
    await page.waitForFunction(() => (window as any).outcome !== null);
    expect(await page.evaluate(() => (window as any).outcome.status)).toBe('ACTIVATION_EMAIL_SENT');

    await activateFromEmail(page, email, 'Copper-Lantern-54');
  });
});
