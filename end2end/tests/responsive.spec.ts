import { test, expect, request, Page, Locator } from '@playwright/test';
import { createUser } from './fixtures/users';
import { requireMfa } from './fixtures/admin';
import { registerClient } from './fixtures/oauth';
import { SignInPage } from './fixtures/pages';
import { PORTCULLIS, HOST, ADMIN_TOKEN, DEMO_HOST } from './fixtures/env';

// Every page a person sees, from a small phone to a wide desktop: nothing scrolls sideways, the
// form keeps a usable width, nothing sticks out of its card or covers something else.
const WIDTHS = [320, 768, 1100, 1440];

interface Box { x: number; y: number; width: number; height: number }

function overlap(a: Box, b: Box): boolean {
  return a.x < b.x + b.width - 1 && b.x < a.x + a.width - 1 && a.y < b.y + b.height - 1 && b.y < a.y + a.height - 1;
}

/** Checks `form` on the current page at every width; `beside` must not overlap it. */
async function holdsAtEveryWidth(page: Page, name: string, form: Locator, beside: Locator[] = []) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    await page.waitForLoadState('load');
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth),
      { message: `${name} at ${width} px scrolls sideways` }).toBeLessThanOrEqual(width);
    const least = Math.min(280, Math.floor(width * 0.8));
    await expect.poll(async () => (await form.boundingBox())?.width ?? 0,
      { message: `${name}'s form at ${width} px is too narrow` }).toBeGreaterThanOrEqual(least);
    const card = (await form.boundingBox())!;
    for (const control of await form.locator('input:visible, select:visible, button:visible, textarea:visible').all()) {
      const b = await control.boundingBox();
      // Visually hidden inputs (a styled checkbox's real box) are a pixel wide: not a control one sees.
      if (!b || b.width < 2) continue;
      const what = `${name} at ${width} px: ${await control.evaluate((e) => e.outerHTML.slice(0, 80))}`;
      expect(b.x, what).toBeGreaterThanOrEqual(card.x - 1);
      expect(b.x + b.width, what).toBeLessThanOrEqual(card.x + card.width + 1);
    }
    for (const other of beside) {
      const b = await other.boundingBox();
      if (b) expect(overlap(card, b), `${name} at ${width} px: the form overlaps what is beside it`).toBe(false);
    }
    await page.screenshot({ path: test.info().outputPath(`${name}-${width}.png`), fullPage: true });
  }
}

test.describe('responsive from 320 to 1440 px', () => {
  test('the sign-in page', async ({ page }) => {
    await page.goto('/login');
    await holdsAtEveryWidth(page, 'sign-in', page.locator('.pc-card').first());
  });

  test('the step pages: MFA choice and authenticator enrollment', async ({ page }) => {
    const user = await createUser('responsive-steps');
    await requireMfa(user.id);
    await page.goto('/login');
    await new SignInPage(page).signIn(user.login, user.password);
    await expect(page.getByRole('heading', { name: 'Set up a second step' })).toBeVisible();
    await holdsAtEveryWidth(page, 'mfa-choice', page.locator('.pc-card').first());
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.locator('[data-factor="totp-GOOGLE"]').getByRole('button', { name: 'Set up' }).click();
    await expect(page.getByRole('heading', { name: 'Set up your authenticator app' })).toBeVisible();
    await holdsAtEveryWidth(page, 'totp-enroll', page.locator('.pc-card').first());
  });

  test('the consent page', async ({ page }) => {
    const api = await request.newContext({ baseURL: PORTCULLIS, extraHTTPHeaders: { Authorization: `SSWS ${ADMIN_TOKEN}` } });
    const scope = `albums:read:${Date.now()}`;
    const made = await api.post('/api/v1/authorizationServers/default/scopes', {
      data: { name: scope, displayName: 'View your albums', description: 'See the albums you made', consent: 'REQUIRED' },
    });
    expect(made.ok()).toBe(true);
    await api.dispose();
    const callback = `${HOST}/callback.html`;
    const { client_id } = await registerClient({
      client_name: 'Album Printer', application_type: 'web', redirect_uris: [callback],
      grant_types: ['authorization_code'], consent_method: 'REQUIRED',
    });
    const user = await createUser('responsive-consent');
    const q = new URLSearchParams({ client_id, redirect_uri: callback, response_type: 'code', scope: `openid ${scope}`, state: 's' });
    await page.goto(`${PORTCULLIS}/oauth2/default/v1/authorize?${q}`);
    await new SignInPage(page).signIn(user.login, user.password);
    await expect(page.getByRole('heading', { name: 'Allow access?' })).toBeVisible();
    await holdsAtEveryWidth(page, 'consent', page.locator('.pc-card').first());
  });

  test('the widget on the demo page, beside the code sample', async ({ page }) => {
    await page.goto(`${DEMO_HOST}/`);
    const widget = page.locator('#signin [data-portcullis-widget]');
    await expect(widget.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
    await holdsAtEveryWidth(page, 'demo-widget', widget, [page.locator('main pre').first(), page.locator('main pre').last()]);
  });
});
